//! CPU time a proxy under test consumed, read from `/proc` (user + system
//! time, in clock ticks) at the boundaries of a load run: a peer server's
//! process tree, or the benchmark's own threads that serve the Hangar
//! proxy's connections.

use std::path::Path;
use std::time::Duration;

/// The fields of a `/proc/<pid>/stat` (or `/proc/<pid>/task/<tid>/stat`)
/// line the benchmark uses; times in clock ticks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcStat {
    /// The command name (a thread's name), at most 15 bytes.
    pub comm: String,
    pub ppid: u32,
    pub utime: u64,
    pub stime: u64,
    /// Time of the children this one has waited for.
    pub cutime: u64,
    pub cstime: u64,
}

/// Parses a stat line. The command name sits between the first `(` and the
/// *last* `)`: it may itself contain spaces and parentheses.
pub fn parse_stat(line: &str) -> Option<ProcStat> {
    let open = line.find('(')?;
    let close = line.rfind(')')?;
    let comm = line.get(open + 1..close)?.to_string();
    // After the name: state ppid pgrp session tty_nr tpgid flags minflt
    // cminflt majflt cmajflt utime stime cutime cstime …
    let fields: Vec<&str> = line.get(close + 1..)?.split_whitespace().collect();
    let number = |i: usize| fields.get(i)?.parse::<u64>().ok();
    Some(ProcStat {
        comm,
        ppid: u32::try_from(number(1)?).ok()?,
        utime: number(11)?,
        stime: number(12)?,
        cutime: number(13)?,
        cstime: number(14)?,
    })
}

/// Whose CPU time a reading sums.
#[derive(Debug, Clone)]
pub enum CpuSubject {
    /// A process and all its descendants, every thread of each included;
    /// children that exited and were reaped count through their parent's
    /// `cutime + cstime`, so a worker that exits between two readings keeps
    /// its time in the sum.
    ProcessTree(u32),
    /// The benchmark's own threads whose name starts with the prefix (the
    /// kernel keeps 15 bytes of a thread's name). A thread that exits
    /// between two readings takes its time with it.
    OwnThreads(&'static str),
}

impl CpuSubject {
    /// The subject's CPU time so far, in clock ticks.
    pub fn ticks(&self) -> std::io::Result<u64> {
        match self {
            CpuSubject::ProcessTree(root) => process_tree_ticks(*root),
            CpuSubject::OwnThreads(prefix) => own_thread_ticks(prefix),
        }
    }
}

/// CPU time consumed between two readings, and the requests served meanwhile.
#[derive(Debug, Clone, Copy)]
pub struct CpuPerRequest {
    pub cpu: Duration,
    pub requests: u64,
}

impl CpuPerRequest {
    /// From two readings in clock ticks.
    pub fn between(before: u64, after: u64, requests: u64) -> CpuPerRequest {
        CpuPerRequest {
            cpu: ticks_to_duration(after.saturating_sub(before)),
            requests,
        }
    }

    /// Microseconds of CPU per request; `None` without requests.
    pub fn micros_per_request(&self) -> Option<f64> {
        (self.requests > 0).then(|| self.cpu.as_secs_f64() * 1e6 / self.requests as f64)
    }
}

/// Clock ticks (`USER_HZ`, the unit of `/proc` times) as a duration.
pub fn ticks_to_duration(ticks: u64) -> Duration {
    Duration::from_secs_f64(ticks as f64 / ticks_per_second() as f64)
}

fn ticks_per_second() -> u64 {
    // SAFETY: sysconf only reads a configuration value.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    u64::try_from(hz).ok().filter(|&hz| hz > 0).unwrap_or(100)
}

fn read_stat(path: &Path) -> std::io::Result<ProcStat> {
    let text = std::fs::read_to_string(path)?;
    parse_stat(&text).ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{}: unreadable stat line {text:?}", path.display()),
        )
    })
}

/// The root's own stat must be readable (it is the proxy, which must still
/// run); processes that vanish while /proc is scanned are skipped.
fn process_tree_ticks(root: u32) -> std::io::Result<u64> {
    let root_stat = read_stat(&Path::new("/proc").join(root.to_string()).join("stat"))?;
    let mut processes: Vec<(u32, ProcStat)> = Vec::new();
    for entry in std::fs::read_dir("/proc")? {
        let Ok(entry) = entry else { continue };
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == root {
            continue;
        }
        if let Ok(stat) = read_stat(&entry.path().join("stat")) {
            processes.push((pid, stat));
        }
    }
    let mut tree = vec![root];
    let mut total = own_and_reaped(&root_stat);
    // Breadth-first over parent links; each pass adds the next generation.
    let mut frontier = vec![root];
    while !frontier.is_empty() {
        let mut next = Vec::new();
        for (pid, stat) in &processes {
            if frontier.contains(&stat.ppid) && !tree.contains(pid) {
                total += own_and_reaped(stat);
                tree.push(*pid);
                next.push(*pid);
            }
        }
        frontier = next;
    }
    Ok(total)
}

fn own_and_reaped(stat: &ProcStat) -> u64 {
    stat.utime + stat.stime + stat.cutime + stat.cstime
}

fn own_thread_ticks(prefix: &str) -> std::io::Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir("/proc/self/task")? {
        let Ok(entry) = entry else { continue };
        let Ok(stat) = read_stat(&entry.path().join("stat")) else {
            continue;
        };
        if stat.comm.starts_with(prefix) {
            total += stat.utime + stat.stime;
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_times_after_a_name_with_spaces_and_parentheses() {
        let line = "4242 (nginx: (worker) x) S 4241 4241 1 0 -1 4194624 \
                    1201 0 3 0 517 88 12 4 20 0 1 0 5000 10000000 900 \
                    18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";
        let stat = parse_stat(line).unwrap();
        assert_eq!(stat.comm, "nginx: (worker) x");
        assert_eq!(stat.ppid, 4241);
        assert_eq!((stat.utime, stat.stime), (517, 88));
        assert_eq!((stat.cutime, stat.cstime), (12, 4));
    }

    #[test]
    fn a_truncated_line_is_rejected() {
        assert!(parse_stat("1 (init) S 0 1 1 0 -1 4194560 100 0").is_none());
        assert!(parse_stat("no parentheses at all").is_none());
    }

    #[test]
    fn this_process_and_its_busy_thread_are_read_from_proc() {
        let stat = read_stat(Path::new("/proc/self/stat")).unwrap();
        assert_eq!(stat.ppid, std::os::unix::process::parent_id());
        let spin = std::thread::Builder::new()
            .name("cpu-time-spin".into())
            .spawn(|| {
                let began = std::time::Instant::now();
                // Burn CPU until the kernel has charged this thread 3 ticks.
                while began.elapsed() < Duration::from_secs(5) {
                    let mine = own_thread_ticks("cpu-time-spin").unwrap();
                    if mine >= 3 {
                        return mine;
                    }
                }
                0
            })
            .unwrap();
        assert!(
            spin.join().unwrap() >= 3,
            "the spinning thread was charged no CPU"
        );
        let tree = process_tree_ticks(std::process::id()).unwrap();
        assert!(tree >= 3, "the process tree read {tree} ticks");
    }

    #[test]
    fn a_process_tree_includes_the_cpu_of_a_busy_grandchild() {
        use std::os::unix::process::CommandExt;
        // The outer shell waits; the shell it forks spins.
        let mut outer = std::process::Command::new("sh")
            .args(["-c", "sh -c 'while :; do :; done'; :"])
            .process_group(0)
            .spawn()
            .unwrap();
        let root = outer.id();
        let began = std::time::Instant::now();
        let mut tree = 0;
        while began.elapsed() < Duration::from_secs(5) && tree < 5 {
            tree = process_tree_ticks(root).unwrap();
        }
        let own = read_stat(&Path::new("/proc").join(root.to_string()).join("stat")).unwrap();
        let _ = std::process::Command::new("kill")
            .args(["-KILL", "--", &format!("-{root}")])
            .status();
        let _ = outer.wait();
        assert!(tree >= 5, "the tree under {root} read {tree} ticks in 5 s");
        assert!(
            own.utime + own.stime < tree,
            "the ticks were the waiting shell's own"
        );
    }

    #[test]
    fn per_request_divides_by_answered_requests() {
        let hz = ticks_per_second();
        let run = CpuPerRequest::between(10, 10 + hz, 20_000);
        let micros = run.micros_per_request().unwrap();
        assert!((micros - 50.0).abs() < 1e-9, "{micros}");
        assert!(CpuPerRequest::between(0, 5, 0)
            .micros_per_request()
            .is_none());
    }
}
