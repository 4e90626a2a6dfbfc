//! Facts about the host the benchmark runs on, and per-machine host costs
//! (memory, bridge ports, iptables rules, open files) sampled while it runs.

use std::path::Path;

/// The machine a run was measured on.
#[derive(Debug, Clone)]
pub struct HostFacts {
    pub nproc: usize,
    pub cpu_model: String,
    pub mem_total_mib: u64,
    pub kernel: String,
    /// `/proc/loadavg` at the time of reading.
    pub loadavg: String,
    /// UTC, from `date -u`.
    pub date: String,
    /// Hard limit of open files for this process.
    pub nofile_hard: u64,
}

impl HostFacts {
    /// Reads the facts from /proc and `date`.
    pub fn read() -> HostFacts {
        let cpuinfo = read_to_string("/proc/cpuinfo");
        let cpu_model = cpuinfo
            .lines()
            .find_map(|l| {
                l.strip_prefix("model name")
                    .and_then(|r| r.split_once(':'))
                    .map(|(_, v)| v.trim().to_string())
            })
            .unwrap_or_else(|| "unknown".into());
        HostFacts {
            nproc: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(0),
            cpu_model,
            mem_total_mib: MemInfo::read().total_kib / 1024,
            kernel: read_to_string("/proc/sys/kernel/osrelease")
                .trim()
                .to_string(),
            loadavg: loadavg(),
            date: command_output("date", &["-u", "+%Y-%m-%d %H:%M:%S UTC"]).unwrap_or_default(),
            nofile_hard: nofile_hard(),
        }
    }
}

/// The first three fields of `/proc/loadavg` (1, 5 and 15 minute load).
pub fn loadavg() -> String {
    read_to_string("/proc/loadavg")
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The memory lines of `/proc/meminfo` the density run needs, in KiB.
#[derive(Debug, Clone, Copy, Default)]
pub struct MemInfo {
    pub total_kib: u64,
    pub available_kib: u64,
}

impl MemInfo {
    /// Reads `/proc/meminfo`.
    pub fn read() -> MemInfo {
        let text = read_to_string("/proc/meminfo");
        let field = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|r| r.trim_start_matches(':').split_whitespace().next())
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        MemInfo {
            total_kib: field("MemTotal"),
            available_kib: field("MemAvailable"),
        }
    }

    /// Memory in use: total minus available, in MiB.
    pub fn used_mib(&self) -> f64 {
        self.total_kib.saturating_sub(self.available_kib) as f64 / 1024.0
    }
}

/// Host resources that grow with the number of Machines.
#[derive(Debug, Clone, Copy, Default)]
pub struct ResourceProbe {
    /// Interfaces enslaved to the platform's bridge.
    pub bridge_ports: usize,
    /// Lines of `iptables -S` plus `iptables -t nat -S` (all chains).
    pub iptables_rules: usize,
    /// File descriptors open in this process (the platform runs in it).
    pub open_fds: usize,
    /// Threads of this process.
    pub threads: usize,
    /// Processes on the host.
    pub host_processes: usize,
    /// Resident memory charged to all Machine cgroups (v1 `total_rss`), MiB.
    pub machines_rss_mib: f64,
    /// Page cache charged to all Machine cgroups (v1 `total_cache`), MiB.
    pub machines_cache_mib: f64,
}

impl ResourceProbe {
    /// Samples the resources for the bridge named `bridge`.
    pub fn sample(bridge: &str) -> ResourceProbe {
        let count_dir = |p: &str| std::fs::read_dir(p).map(|d| d.count()).unwrap_or(0);
        let rules = |table: &str| {
            command_output("iptables", &["-w", "5", "-t", table, "-S"])
                .map(|s| s.lines().count())
                .unwrap_or(0)
        };
        let threads = read_to_string("/proc/self/status")
            .lines()
            .find_map(|l| l.strip_prefix("Threads:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        let host_processes = std::fs::read_dir("/proc")
            .map(|d| {
                d.filter_map(Result::ok)
                    .filter(|e| {
                        e.file_name()
                            .to_string_lossy()
                            .bytes()
                            .all(|b| b.is_ascii_digit())
                    })
                    .count()
            })
            .unwrap_or(0);
        ResourceProbe {
            bridge_ports: count_dir(&format!("/sys/class/net/{bridge}/brif")),
            iptables_rules: rules("filter") + rules("nat"),
            open_fds: count_dir("/proc/self/fd"),
            threads,
            host_processes,
            machines_rss_mib: machine_cgroups_stat("total_rss"),
            machines_cache_mib: machine_cgroups_stat("total_cache"),
        }
    }
}

/// A `memory.stat` field of the process driver's `hangar/` cgroup, which
/// it creates below this process's own v1 memory cgroup; in MiB, 0 when
/// there is no such cgroup (no Machine yet, or memory not on v1).
fn machine_cgroups_stat(field: &str) -> f64 {
    let own = read_to_string("/proc/self/cgroup");
    let Some(path) = own.lines().find_map(|l| {
        let mut parts = l.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        controllers
            .split(',')
            .any(|c| c == "memory")
            .then(|| path.to_string())
    }) else {
        return 0.0;
    };
    let stat = read_to_string(format!(
        "/sys/fs/cgroup/memory{}/hangar/memory.stat",
        path.trim_end_matches('/')
    ));
    stat.lines()
        .find_map(|l| {
            l.strip_prefix(field)
                .and_then(|v| v.trim().parse::<u64>().ok())
        })
        .map(|bytes| bytes as f64 / (1024.0 * 1024.0))
        .unwrap_or(0.0)
}

fn nofile_hard() -> u64 {
    read_to_string("/proc/self/limits")
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(4))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn read_to_string(path: impl AsRef<Path>) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// Runs a short host command synchronously; its trimmed stdout on success.
fn command_output(program: &str, args: &[&str]) -> Option<String> {
    let out = std::process::Command::new(program)
        .args(args)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}
