//! Per-Machine cgroups: limits, membership, freezing, killing, OOM and CPU accounting.
//!
//! Works with cgroup v1 (one hierarchy per controller), v2 (unified), and the
//! hybrid layout where the limit controllers are on v1 and a controller-less
//! v2 hierarchy sits at `/sys/fs/cgroup/unified`. Machine cgroups are created
//! below this process's own cgroup in each hierarchy, under `hangar/`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use hangar_driver::{DriverError, Resources};
use serde::{Deserialize, Serialize};

use crate::wait::poll_until;

/// v1 controllers the driver uses.
const V1_CONTROLLERS: [&str; 5] = ["memory", "cpu", "cpuacct", "pids", "freezer"];
/// v2 controllers the driver enables for Machines.
const V2_CONTROLLERS: [&str; 3] = ["memory", "cpu", "pids"];
const CFS_PERIOD_US: u64 = 100_000;
/// How long freezing, killing and removal may take before the driver gives up.
const SETTLE: Duration = Duration::from_secs(10);

/// Where Machine cgroups are created on this host.
#[derive(Debug, Clone, Default)]
pub(crate) struct CgroupRoots {
    /// v1 controller → the `hangar` directory in its hierarchy.
    v1: BTreeMap<String, PathBuf>,
    /// The `hangar` directory in the v2 hierarchy, if one is mounted.
    v2: Option<PathBuf>,
    /// True when the limit controllers live on v2.
    v2_limits: bool,
}

struct CgroupMount {
    mount_point: PathBuf,
    mount_root: String,
    /// Controllers (v1) of this hierarchy; empty for v2.
    controllers: Vec<String>,
}

/// Cgroup hierarchies in a `/proc/self/mountinfo` table.
fn cgroup_mounts(table: &str) -> Vec<CgroupMount> {
    table
        .lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let left: Vec<&str> = left.split(' ').collect();
            let right: Vec<&str> = right.split(' ').collect();
            let fstype = *right.first()?;
            let super_options = right.get(2).copied().unwrap_or("");
            let controllers = match fstype {
                "cgroup" => super_options.split(',').map(str::to_owned).collect(),
                "cgroup2" => Vec::new(),
                _ => return None,
            };
            Some(CgroupMount {
                mount_point: PathBuf::from(left.get(4)?),
                mount_root: left.get(3)?.to_string(),
                controllers,
            })
        })
        .collect()
}

/// The cgroup path for a v1 controller, or for v2 (`None`), in a `/proc/self/cgroup` table.
fn own_path(table: &str, controller: Option<&str>) -> String {
    table
        .lines()
        .find_map(|line| {
            let mut parts = line.splitn(3, ':');
            let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
            let matches = match controller {
                Some(c) => controllers.split(',').any(|x| x == c),
                None => controllers.is_empty(),
            };
            matches.then(|| path.to_owned())
        })
        .unwrap_or_else(|| "/".into())
}

fn hangar_dir(mount: &CgroupMount, own: &str) -> PathBuf {
    let relative = own
        .strip_prefix(&mount.mount_root)
        .unwrap_or(own)
        .trim_start_matches('/');
    let own_dir = mount.mount_point.join(relative);
    let base = if own_dir.is_dir() {
        own_dir
    } else {
        mount.mount_point.clone()
    };
    base.join("hangar")
}

fn write(path: &Path, value: &str) -> Result<(), DriverError> {
    std::fs::write(path, value).map_err(|e| DriverError::io(format!("writing {value:?}"), path, e))
}

impl CgroupRoots {
    /// Finds (and prepares) the hierarchies; returns what is missing as reasons.
    pub(crate) fn probe() -> (CgroupRoots, Vec<String>) {
        let mounts =
            cgroup_mounts(&std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default());
        let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
        let mut roots = CgroupRoots::default();
        let mut reasons = Vec::new();
        for controller in V1_CONTROLLERS {
            let Some(mount) = mounts
                .iter()
                .find(|m| m.controllers.iter().any(|c| c == controller))
            else {
                continue;
            };
            let dir = hangar_dir(mount, &own_path(&own, Some(controller)));
            match std::fs::create_dir_all(&dir) {
                Ok(()) => {
                    roots.v1.insert(controller.to_owned(), dir);
                }
                Err(e) => reasons.push(format!("cannot create cgroup {}: {e}", dir.display())),
            }
        }
        if let Some(mount) = mounts.iter().find(|m| m.controllers.is_empty()) {
            let available = std::fs::read_to_string(mount.mount_point.join("cgroup.controllers"))
                .unwrap_or_default();
            let has_limits = V2_CONTROLLERS
                .iter()
                .all(|c| available.split_whitespace().any(|a| a == *c));
            let dir = if has_limits && roots.v1.is_empty() {
                // Pure v2: controllers can only be delegated to a cgroup without processes
                // of its own, so Machines live in a top-level `hangar` cgroup.
                roots.v2_limits = true;
                mount.mount_point.join("hangar")
            } else {
                hangar_dir(mount, &own_path(&own, None))
            };
            let prepared = std::fs::create_dir_all(&dir).and_then(|()| {
                if roots.v2_limits {
                    let enable: Vec<String> =
                        V2_CONTROLLERS.iter().map(|c| format!("+{c}")).collect();
                    std::fs::write(
                        mount.mount_point.join("cgroup.subtree_control"),
                        enable.join(" "),
                    )?;
                    std::fs::write(dir.join("cgroup.subtree_control"), enable.join(" "))?;
                }
                Ok(())
            });
            match prepared {
                Ok(()) => roots.v2 = Some(dir),
                Err(e) => {
                    roots.v2_limits = false;
                    reasons.push(format!(
                        "cannot prepare cgroup v2 directory {}: {e}",
                        dir.display()
                    ));
                }
            }
        }
        if !roots.v2_limits {
            for (controller, purpose) in [
                ("memory", "memory limits"),
                ("cpu", "CPU quota"),
                ("pids", "the pids limit"),
            ] {
                if !roots.v1.contains_key(controller) {
                    reasons.push(format!(
                        "no usable {controller} cgroup controller: {purpose} are not enforced"
                    ));
                }
            }
            if !roots.v1.contains_key("freezer") && roots.v2.is_none() {
                reasons.push("no cgroup freezer: suspend is unavailable".into());
            }
        }
        (roots, reasons)
    }

    /// True when no cgroup hierarchy is usable at all.
    pub(crate) fn is_empty(&self) -> bool {
        self.v1.is_empty() && self.v2.is_none()
    }

    /// Creates the cgroups of one Machine task and applies its limits.
    pub(crate) fn create(
        &self,
        name: &str,
        resources: &Resources,
    ) -> Result<MachineCgroups, DriverError> {
        let cgroups = MachineCgroups {
            v1: self
                .v1
                .iter()
                .map(|(c, dir)| (c.clone(), dir.join(name)))
                .collect(),
            v2: self.v2.as_ref().map(|dir| dir.join(name)),
            v2_limits: self.v2_limits,
        };
        for dir in cgroups.dirs() {
            std::fs::create_dir_all(dir).map_err(|e| DriverError::io("creating cgroup", dir, e))?;
        }
        if let Err(e) = cgroups.apply_limits(resources) {
            cgroups.remove_now();
            return Err(e);
        }
        Ok(cgroups)
    }
}

/// The cgroups of one Machine task; persisted in its handle.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct MachineCgroups {
    v1: BTreeMap<String, PathBuf>,
    v2: Option<PathBuf>,
    v2_limits: bool,
}

impl MachineCgroups {
    fn dirs(&self) -> impl Iterator<Item = &PathBuf> {
        self.v1.values().chain(self.v2.iter())
    }

    fn limits_dir(&self, v1_controller: &str) -> Option<&PathBuf> {
        if self.v2_limits {
            self.v2.as_ref()
        } else {
            self.v1.get(v1_controller)
        }
    }

    fn apply_limits(&self, resources: &Resources) -> Result<(), DriverError> {
        let memory = resources.memory_mb.saturating_mul(1024 * 1024).to_string();
        let quota = (u64::from(resources.cpus.max(1)) * CFS_PERIOD_US).to_string();
        let per_cpu_shares: u64 = if resources.is_performance() { 1024 } else { 64 };
        let shares = u64::from(resources.cpus.max(1)) * per_cpu_shares;
        let pids = resources.pids_max.max(1).to_string();
        if self.v2_limits {
            let Some(dir) = &self.v2 else { return Ok(()) };
            write(&dir.join("memory.max"), &memory)?;
            let _ = std::fs::write(dir.join("memory.swap.max"), "0");
            write(&dir.join("cpu.max"), &format!("{quota} {CFS_PERIOD_US}"))?;
            let weight = 1 + (shares.saturating_sub(2) * 9999) / 262_142;
            write(&dir.join("cpu.weight"), &weight.to_string())?;
            return write(&dir.join("pids.max"), &pids);
        }
        if let Some(dir) = self.v1.get("memory") {
            // memory+swap must stay >= memory: lift it first in case the cgroup is reused.
            let _ = std::fs::write(dir.join("memory.memsw.limit_in_bytes"), "-1");
            write(&dir.join("memory.limit_in_bytes"), &memory)?;
            // Without swap accounting this file is absent; the memory limit alone applies.
            let _ = std::fs::write(dir.join("memory.memsw.limit_in_bytes"), &memory);
        }
        if let Some(dir) = self.v1.get("cpu") {
            write(&dir.join("cpu.cfs_period_us"), &CFS_PERIOD_US.to_string())?;
            write(&dir.join("cpu.cfs_quota_us"), &quota)?;
            write(&dir.join("cpu.shares"), &shares.to_string())?;
        }
        if let Some(dir) = self.v1.get("pids") {
            write(&dir.join("pids.max"), &pids)?;
        }
        Ok(())
    }

    /// The `cgroup.procs` files of every hierarchy (writing a PID there moves it in).
    pub(crate) fn procs_files(&self) -> Vec<PathBuf> {
        self.dirs().map(|d| d.join("cgroup.procs")).collect()
    }

    /// Moves `pid` into every cgroup of the Machine.
    pub(crate) fn attach(&self, pid: u32) -> Result<(), DriverError> {
        for procs in self.procs_files() {
            write(&procs, &pid.to_string())?;
        }
        Ok(())
    }

    /// Host PIDs currently in the Machine's cgroups.
    pub(crate) fn pids(&self) -> Vec<u32> {
        let Some(dir) = self
            .v1
            .get("pids")
            .or(self.v1.get("freezer"))
            .or(self.v2.as_ref())
            .or(self.v1.values().next())
        else {
            return Vec::new();
        };
        std::fs::read_to_string(dir.join("cgroup.procs"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect()
    }

    /// Freezes (`true`) or thaws (`false`) every process, waiting until the kernel is done.
    pub(crate) async fn set_frozen(&self, frozen: bool) -> Result<(), DriverError> {
        if let Some(dir) = self.v1.get("freezer") {
            let state = dir.join("freezer.state");
            let wanted = if frozen { "FROZEN" } else { "THAWED" };
            let done = poll_until(SETTLE, || {
                // Re-writing is how v1 is asked to retry a freeze that raced with a fork.
                let _ = std::fs::write(&state, wanted);
                let now = std::fs::read_to_string(&state).unwrap_or_default();
                async move { now.trim() == wanted }
            })
            .await;
            if !done {
                return Err(DriverError::HostSetup(format!(
                    "cgroup {} did not reach {wanted} within {SETTLE:?}",
                    dir.display()
                )));
            }
            return Ok(());
        }
        if let Some(dir) = &self.v2 {
            write(&dir.join("cgroup.freeze"), if frozen { "1" } else { "0" })?;
            let wanted = if frozen { "frozen 1" } else { "frozen 0" };
            let events = dir.join("cgroup.events");
            let done = poll_until(SETTLE, || {
                let now = std::fs::read_to_string(&events).unwrap_or_default();
                async move { now.lines().any(|l| l.trim() == wanted) }
            })
            .await;
            if !done {
                return Err(DriverError::HostSetup(format!(
                    "cgroup {} did not report `{wanted}` within {SETTLE:?}",
                    dir.display()
                )));
            }
            return Ok(());
        }
        Err(DriverError::Unsupported {
            driver: "process",
            operation: if frozen { "suspend" } else { "resume" },
            reason: "no cgroup freezer is available on this host".into(),
        })
    }

    /// SIGKILLs every process in the Machine's cgroups and waits until they are gone.
    pub(crate) async fn kill_all(&self) -> Result<(), DriverError> {
        if let Some(dir) = &self.v2 {
            let _ = std::fs::write(dir.join("cgroup.kill"), "1");
        }
        let freezer = self.v1.get("freezer");
        let emptied = poll_until(SETTLE, || {
            let pids = self.pids();
            async move {
                if pids.is_empty() {
                    return true;
                }
                // A frozen cgroup cannot fork while it is being killed; killed tasks
                // only die once thawed.
                if let Some(dir) = freezer {
                    let _ = std::fs::write(dir.join("freezer.state"), "FROZEN");
                }
                for pid in pids {
                    let _ = nix::sys::signal::kill(
                        nix::unistd::Pid::from_raw(pid as i32),
                        nix::sys::signal::Signal::SIGKILL,
                    );
                }
                if let Some(dir) = freezer {
                    let _ = std::fs::write(dir.join("freezer.state"), "THAWED");
                }
                false
            }
        })
        .await;
        if emptied {
            Ok(())
        } else {
            Err(DriverError::HostSetup(format!(
                "processes {:?} of the machine survived SIGKILL for {SETTLE:?}",
                self.pids()
            )))
        }
    }

    /// True when the kernel OOM-killed a process of this Machine.
    pub(crate) fn oom_killed(&self) -> bool {
        let Some(dir) = self.limits_dir("memory") else {
            return false;
        };
        let file = if self.v2_limits {
            "memory.events"
        } else {
            "memory.oom_control"
        };
        let text = std::fs::read_to_string(dir.join(file)).unwrap_or_default();
        text.lines().any(|line| {
            let mut parts = line.split_whitespace();
            parts.next() == Some("oom_kill")
                && parts
                    .next()
                    .and_then(|n| n.parse::<u64>().ok())
                    .unwrap_or(0)
                    > 0
        })
    }

    /// CPU time used by the Machine so far, in nanoseconds.
    pub(crate) fn cpu_usage_nanos(&self) -> Option<u64> {
        if self.v2_limits {
            let text = std::fs::read_to_string(self.v2.as_ref()?.join("cpu.stat")).ok()?;
            let usec = text.lines().find_map(|l| l.strip_prefix("usage_usec "))?;
            return usec.trim().parse::<u64>().ok().map(|u| u * 1000);
        }
        let text = std::fs::read_to_string(self.v1.get("cpuacct")?.join("cpuacct.usage")).ok()?;
        text.trim().parse().ok()
    }

    fn remove_now(&self) {
        for dir in self.dirs() {
            let _ = std::fs::remove_dir(dir);
        }
    }

    /// Removes the cgroups, waiting (bounded) for exiting processes to leave them.
    pub(crate) async fn remove(&self) -> Result<(), DriverError> {
        let removed = poll_until(SETTLE, || {
            let all_gone = self.dirs().all(|dir| match std::fs::remove_dir(dir) {
                Ok(()) => true,
                Err(e) => e.kind() == std::io::ErrorKind::NotFound,
            });
            async move { all_gone }
        })
        .await;
        if removed {
            Ok(())
        } else {
            let left: Vec<String> = self
                .dirs()
                .filter(|d| d.exists())
                .map(|d| d.display().to_string())
                .collect();
            Err(DriverError::HostSetup(format!(
                "could not remove cgroups {left:?} (processes still inside?)"
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID_MOUNTS: &str = "\
35 28 0:30 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw
36 28 0:31 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:11 - cgroup cgroup rw,cpu,cpuacct
37 28 0:32 / /sys/fs/cgroup/memory rw,nosuid shared:12 - cgroup cgroup rw,memory
38 28 0:33 / /sys/fs/cgroup/systemd rw,nosuid shared:13 - cgroup cgroup rw,xattr,name=systemd
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw";
    const HYBRID_OWN: &str = "12:memory:/agent/slice\n4:cpu,cpuacct:/\n1:name=systemd:/x\n0::/x\n";

    #[test]
    fn parses_hybrid_hierarchies_and_own_paths() {
        let mounts = cgroup_mounts(HYBRID_MOUNTS);
        assert_eq!(mounts.len(), 4, "ext4 is not a cgroup");
        let v2: Vec<_> = mounts.iter().filter(|m| m.controllers.is_empty()).collect();
        assert_eq!(v2.len(), 1);
        assert_eq!(v2[0].mount_point, PathBuf::from("/sys/fs/cgroup/unified"));
        let cpu = mounts
            .iter()
            .find(|m| m.controllers.iter().any(|c| c == "cpuacct"))
            .unwrap();
        assert_eq!(cpu.mount_point, PathBuf::from("/sys/fs/cgroup/cpu,cpuacct"));
        assert!(cpu.controllers.iter().any(|c| c == "cpu"));
        assert_eq!(own_path(HYBRID_OWN, Some("memory")), "/agent/slice");
        assert_eq!(own_path(HYBRID_OWN, Some("cpuacct")), "/");
        assert_eq!(own_path(HYBRID_OWN, None), "/x");
        assert_eq!(
            own_path(HYBRID_OWN, Some("pids")),
            "/",
            "unknown controllers default to the root"
        );
    }

    #[test]
    fn parses_pure_v2() {
        let mounts = cgroup_mounts(
            "30 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n",
        );
        assert_eq!(mounts.len(), 1);
        assert!(mounts[0].controllers.is_empty());
        assert_eq!(
            own_path("0::/user.slice/session-1.scope\n", None),
            "/user.slice/session-1.scope"
        );
    }

    #[test]
    fn machine_cgroups_round_trip_through_a_handle() {
        let cgroups = MachineCgroups {
            v1: [(
                "memory".to_owned(),
                PathBuf::from("/sys/fs/cgroup/memory/hangar/m-i"),
            )]
            .into(),
            v2: Some(PathBuf::from("/sys/fs/cgroup/unified/hangar/m-i")),
            v2_limits: false,
        };
        let json = serde_json::to_value(&cgroups).unwrap();
        assert_eq!(
            serde_json::from_value::<MachineCgroups>(json).unwrap(),
            cgroups
        );
        assert_eq!(cgroups.procs_files().len(), 2);
    }
}
