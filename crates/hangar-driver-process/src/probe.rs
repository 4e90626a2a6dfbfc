//! Deciding, once at construction, how well this host lets the driver isolate Machines.

use std::process::{Command, Stdio};

use hangar_driver::Isolation;
use nix::sched::{unshare, CloneFlags};

use crate::cgroup::CgroupRoots;
use crate::config::ProcessDriverConfig;
use crate::network;
use crate::protocol;

/// What the host supports, as found by [`probe`].
#[derive(Debug, Clone)]
pub(crate) struct HostSupport {
    pub isolation: Isolation,
    /// Namespaces + overlay root are usable (otherwise Machines run unisolated).
    pub namespaces: bool,
    /// Machines get their own network namespace (needs `ip`).
    pub network: bool,
    pub cgroups: CgroupRoots,
}

/// Namespaces every isolated Machine gets, besides the network namespace.
pub(crate) const BASE_NAMESPACES: CloneFlags = CloneFlags::CLONE_NEWNS
    .union(CloneFlags::CLONE_NEWUTS)
    .union(CloneFlags::CLONE_NEWIPC)
    .union(CloneFlags::CLONE_NEWPID);

fn overlay_supported() -> bool {
    std::fs::read_to_string("/proc/filesystems")
        .map(|text| {
            text.lines()
                .any(|l| l.split_whitespace().last() == Some("overlay"))
        })
        .unwrap_or(false)
}

/// Starts the init's `probe` subcommand in fresh namespaces.
fn namespaces_work(config: &ProcessDriverConfig) -> Result<(), String> {
    let flags = BASE_NAMESPACES | CloneFlags::CLONE_NEWNET;
    let mut command = Command::new(&config.init_exe);
    command
        .args(&config.init_args)
        .arg(protocol::PROBE)
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    // SAFETY: unshare is a plain system call, safe between fork and exec.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut command, move || {
            unshare(flags).map_err(std::io::Error::from)
        });
    }
    match command.status() {
        Ok(status) if status.success() => Ok(()),
        Ok(status) => Err(format!(
            "{} probe exited with {status}",
            config.init_exe.display()
        )),
        Err(e) => Err(format!("creating namespaces failed: {e}")),
    }
}

/// Probes the host. Never fails: what is missing becomes a reason in the isolation.
pub(crate) fn probe(config: &ProcessDriverConfig) -> HostSupport {
    let mut fatal = Vec::new();
    if config.disable_isolation {
        fatal.push(
            "isolation is disabled in the driver configuration (disable_isolation = true)".into(),
        );
    }
    let euid = nix::unistd::geteuid();
    if !euid.is_root() {
        fatal.push(format!(
            "the process driver runs as uid {euid}, not root: namespaces, cgroups and networking need root"
        ));
    } else if fatal.is_empty() {
        if !overlay_supported() {
            fatal.push("overlayfs is not available (load the `overlay` kernel module)".into());
        }
        if let Err(e) = namespaces_work(config) {
            fatal.push(format!(
                "cannot create pid/mount/uts/ipc/net namespaces: {e}"
            ));
        }
    }
    if !fatal.is_empty() {
        return HostSupport {
            isolation: Isolation::None { reasons: fatal },
            namespaces: false,
            network: false,
            cgroups: CgroupRoots::default(),
        };
    }
    let (cgroups, mut reasons) = CgroupRoots::probe();
    if cgroups.is_empty() {
        reasons.push("no cgroup hierarchy is usable: no resource limits, no suspend".into());
    }
    let network = network::ip_available();
    if !network {
        reasons.push("`ip` (iproute2) is missing: machines share the host's network".into());
    }
    let isolation = if reasons.is_empty() {
        Isolation::Full
    } else {
        Isolation::Partial { reasons }
    };
    HostSupport {
        isolation,
        namespaces: true,
        network,
        cgroups,
    }
}
