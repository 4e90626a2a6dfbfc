//! `hangar dev` as a child process of a test: every listener on a loopback
//! port the kernel picks, the addresses read back from the banner it prints,
//! and the process never left running once the test is done — nor any
//! process of its Machines: after it has stopped, whatever still runs with
//! the data dir in its command line or working directory (a Machine's
//! `machine-init`), and every descendant of those, is killed and reported.

use std::ffi::{OsStr, OsString};
use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hangar_client::Client;

/// How long `hangar dev` may take to print where it listens.
const BANNER_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a graceful stop (SIGTERM) may take before SIGKILL.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// Extra arguments and environment for a [`DevProcess`].
pub struct DevProcessBuilder {
    data_dir: PathBuf,
    args: Vec<OsString>,
    envs: Vec<(OsString, OsString)>,
}

impl DevProcessBuilder {
    /// Adds arguments after `hangar dev`'s own (its network, `--example`, …).
    pub fn args<S: AsRef<OsStr>>(mut self, args: impl IntoIterator<Item = S>) -> Self {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Sets an environment variable (`HANGAR_LOG` is `warn` unless set here).
    #[allow(dead_code)] // part of the builder; none of today's tests needs it
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.envs
            .push((key.as_ref().to_owned(), value.as_ref().to_owned()));
        self
    }

    /// Spawns `hangar dev` and waits (bounded) until its API answers.
    pub async fn start(self) -> DevProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_hangar"))
            .arg("dev")
            .arg("--data-dir")
            .arg(&self.data_dir)
            .args(["--api-listen", "127.0.0.1:0"])
            .args(["--proxy-listen", "127.0.0.1:0"])
            .args(["--proxy-metrics-listen", "127.0.0.1:0"])
            .args(["--proxy-tls-listen", "127.0.0.1:0"])
            .args(["--agent-listen", "127.0.0.1:0"])
            .args(&self.args)
            .env("HANGAR_LOG", "warn")
            .envs(self.envs.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn hangar dev");
        let banner = Banner::follow(child.stdout.take().expect("piped stdout"));
        // Owned from here on, so a failed wait below still stops it.
        let mut dev = DevProcess {
            child: Some(child),
            data_dir: self.data_dir.clone(),
            api_url: String::new(),
            token: String::new(),
            proxy_addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
        };
        let (api_url, proxy_port) = hangar_testbed::wait_until(
            "hangar dev to print its API and proxy addresses",
            BANNER_TIMEOUT,
            || {
                let banner = banner.lock().unwrap();
                match (&banner.api_url, banner.proxy_port) {
                    (Some(url), Some(port)) => Some((url.clone(), port)),
                    _ if banner.closed => {
                        panic!(
                            "hangar dev exited before printing its addresses (its stderr is above)"
                        )
                    }
                    _ => None,
                }
            },
        )
        .await;
        dev.api_url = api_url;
        dev.proxy_addr.set_port(proxy_port);
        dev.token = std::fs::read_to_string(self.data_dir.join("token"))
            .expect("hangar dev's token file")
            .trim()
            .to_string();
        let client = dev.client();
        hangar_testbed::wait_until_async("the API to answer", Duration::from_secs(30), || {
            client.list_apps("personal")
        })
        .await;
        dev
    }
}

/// A running `hangar dev`; stopped gracefully (SIGTERM, then SIGKILL after
/// [`STOP_TIMEOUT`]) when dropped.
pub struct DevProcess {
    /// `None` once stopped or killed.
    child: Option<Child>,
    data_dir: PathBuf,
    api_url: String,
    token: String,
    proxy_addr: SocketAddr,
}

impl DevProcess {
    /// `hangar dev --data-dir <data_dir>` on loopback ports; see
    /// [`DevProcessBuilder`] for more.
    pub fn builder(data_dir: &Path) -> DevProcessBuilder {
        DevProcessBuilder {
            data_dir: data_dir.to_owned(),
            args: Vec::new(),
            envs: Vec::new(),
        }
    }

    /// The API's base URL (`http://127.0.0.1:<port>`).
    pub fn api_url(&self) -> &str {
        &self.api_url
    }

    /// The API token from the data directory.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// A client of the API with the token.
    pub fn client(&self) -> Client {
        Client::new(&self.api_url, self.token.clone()).expect("API client")
    }

    /// The built-in proxy's HTTP listener (Host-routed, port 80 services).
    pub fn proxy_addr(&self) -> SocketAddr {
        self.proxy_addr
    }

    /// Sends `signal` (e.g. SIGSTOP to freeze the control plane).
    pub fn signal(&self, signal: i32) {
        if let Some(child) = &self.child {
            // SAFETY: kill(2) on our own child's pid, not yet reaped.
            unsafe { libc::kill(child.id() as i32, signal) };
        }
    }

    /// Stops it as Ctrl-C does (its Machines stop with it); SIGKILL if it
    /// takes longer than [`STOP_TIMEOUT`]. Processes it left running are
    /// killed and reported on stderr.
    pub fn stop(self) -> ExitStatus {
        self.stop_and_sweep().0
    }

    /// [`DevProcess::stop`], also returning the processes it left running
    /// under its data dir (each killed): empty unless its Machines outlived it.
    pub fn stop_and_sweep(mut self) -> (ExitStatus, Vec<String>) {
        let status = terminate(self.child.take().expect("running"));
        (status, sweep_leftovers(&self.data_dir))
    }

    /// SIGKILL, as a crash would: its Machines' state is left as it is (and
    /// their processes keep running, for a `hangar dev` started next on the
    /// same data dir to recover; that one's stop sweeps them).
    pub fn kill(mut self) {
        let mut child = self.child.take().expect("running");
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for DevProcess {
    fn drop(&mut self) {
        if let Some(child) = self.child.take() {
            terminate(child);
            sweep_leftovers(&self.data_dir);
        }
    }
}

/// SIGCONT (in case a test froze it), SIGTERM, a bounded wait, then SIGKILL.
/// An exit other than a clean one is reported on stderr: a `hangar dev`
/// killed by the signal (or by SIGKILL) has not stopped its Machines.
fn terminate(mut child: Child) -> ExitStatus {
    use std::os::unix::process::ExitStatusExt;
    let pid = child.id();
    for signal in [libc::SIGCONT, libc::SIGTERM] {
        // SAFETY: kill(2) on our own child's pid, not yet reaped.
        unsafe { libc::kill(pid as i32, signal) };
    }
    let deadline = Instant::now() + STOP_TIMEOUT;
    let status = loop {
        if let Ok(Some(status)) = child.try_wait() {
            break status;
        }
        if Instant::now() >= deadline {
            eprintln!(
                "!!! hangar dev (pid {pid}) did not stop within {STOP_TIMEOUT:?} of SIGTERM: SIGKILL"
            );
            let _ = child.kill();
            break child.wait().expect("reap hangar dev");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    if let Some(signal) = status.signal() {
        eprintln!("!!! hangar dev (pid {pid}) was killed by signal {signal} instead of stopping");
    }
    status
}

/// How long killed leftovers may take to go.
const SWEEP_TIMEOUT: Duration = Duration::from_secs(10);

/// Kills (SIGKILL) every process still running with `data_dir` in its
/// command line or working directory — what a `hangar dev` that did not stop
/// its Machines leaves: their `machine-init` — and every descendant of those
/// (the workloads, whose own command lines do not name the data dir). Says
/// so loudly on stderr, detaches the mounts left under `data_dir` (see
/// [`unmount_leftovers`]), and returns one line per process and mount.
fn sweep_leftovers(data_dir: &Path) -> Vec<String> {
    let dir = data_dir
        .canonicalize()
        .unwrap_or_else(|_| data_dir.to_owned());
    let dir_text = dir.to_string_lossy().into_owned();
    let processes = processes();
    let under = |p: &ProcInfo| {
        p.cmdline.contains(&dir_text) || p.cwd.as_deref().is_some_and(|cwd| cwd.starts_with(&dir))
    };
    let mut doomed: Vec<&ProcInfo> = processes.iter().filter(|p| under(p)).collect();
    // Their descendants, to a fixed point.
    loop {
        let more: Vec<&ProcInfo> = processes
            .iter()
            .filter(|p| !doomed.iter().any(|d| d.pid == p.pid))
            .filter(|p| doomed.iter().any(|d| d.pid == p.ppid))
            .collect();
        if more.is_empty() {
            break;
        }
        doomed.extend(more);
    }
    if doomed.is_empty() {
        return unmount_leftovers(&dir);
    }
    let mut killed: Vec<String> = doomed
        .iter()
        .map(|p| format!("pid {} (parent {}): {}", p.pid, p.ppid, p.cmdline))
        .collect();
    eprintln!(
        "!!! LEAK: {} process(es) still running under {} after hangar dev exited; killing them:\n  {}",
        doomed.len(),
        dir.display(),
        killed.join("\n  ")
    );
    for p in &doomed {
        // SAFETY: kill(2) with SIGKILL on a pid just read from /proc.
        unsafe { libc::kill(p.pid, libc::SIGKILL) };
    }
    let deadline = Instant::now() + SWEEP_TIMEOUT;
    loop {
        let alive: Vec<i32> = doomed
            .iter()
            .map(|p| p.pid)
            .filter(|pid| is_alive(*pid))
            .collect();
        if alive.is_empty() {
            break;
        }
        if Instant::now() >= deadline {
            eprintln!("!!! LEAK: still alive {SWEEP_TIMEOUT:?} after SIGKILL: {alive:?}");
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    // Their mounts (volumes) once they are gone.
    killed.extend(unmount_leftovers(&dir));
    killed
}

/// Detaches (lazily) every mount still under `dir` — the loop-mounted
/// volumes of a `hangar dev` that did not stop, which would otherwise keep
/// their loop device and the test's temporary directory — deepest first.
/// Says so loudly on stderr; returns one line per mount.
fn unmount_leftovers(dir: &Path) -> Vec<String> {
    let Ok(mounts) = std::fs::read_to_string("/proc/self/mounts") else {
        return Vec::new();
    };
    let mut points: Vec<String> = mounts
        .lines()
        .filter_map(|line| line.split_whitespace().nth(1))
        // /proc/self/mounts escapes spaces and the like as octal; test
        // data dirs have none.
        .filter(|point| Path::new(point).starts_with(dir))
        .map(str::to_owned)
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.len()));
    points.dedup();
    if points.is_empty() {
        return Vec::new();
    }
    eprintln!(
        "!!! LEAK: {} mount(s) left under {} after hangar dev exited; detaching them:\n  {}",
        points.len(),
        dir.display(),
        points.join("\n  ")
    );
    points
        .into_iter()
        .map(|point| {
            let c_point = std::ffi::CString::new(point.clone()).expect("no NUL in a mount point");
            // SAFETY: umount2(2) with a valid C string.
            let rc = unsafe { libc::umount2(c_point.as_ptr(), libc::MNT_DETACH) };
            if rc != 0 {
                eprintln!(
                    "!!! cannot detach {point}: {}",
                    std::io::Error::last_os_error()
                );
            }
            format!("mount {point}")
        })
        .collect()
}

/// One process as /proc shows it.
struct ProcInfo {
    pid: i32,
    ppid: i32,
    /// Arguments joined by spaces.
    cmdline: String,
    cwd: Option<PathBuf>,
}

/// Every process but this one (kernel threads, with no command line, left out).
fn processes() -> Vec<ProcInfo> {
    let me = std::process::id() as i32;
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| *pid != me)
        .filter_map(|pid| {
            let proc_dir = PathBuf::from(format!("/proc/{pid}"));
            let raw = std::fs::read(proc_dir.join("cmdline")).ok()?;
            if raw.is_empty() {
                return None;
            }
            let cmdline = raw
                .split(|b| *b == 0)
                .filter(|a| !a.is_empty())
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect::<Vec<_>>()
                .join(" ");
            let ppid = parent_of(pid)?;
            let cwd = std::fs::read_link(proc_dir.join("cwd")).ok();
            Some(ProcInfo {
                pid,
                ppid,
                cmdline,
                cwd,
            })
        })
        .collect()
}

/// The parent pid from /proc/<pid>/stat (the field after the state, which
/// follows the parenthesised command name).
fn parent_of(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(1)?.parse().ok()
}

/// Still there and not a zombie (a zombie is dead, waiting for its reaper).
fn is_alive(pid: i32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let state = stat
        .rfind(')')
        .and_then(|i| stat[i + 1..].split_whitespace().next());
    !matches!(state, Some("Z") | Some("X") | None)
}

/// What `hangar dev` has printed so far about where it listens.
#[derive(Default)]
struct Banner {
    /// From `  API:    http://…`.
    api_url: Option<String>,
    /// From the first `  proxy:  http://<app>.<domain>:<port> …`.
    proxy_port: Option<u16>,
    /// Its stdout closed: the process has exited.
    closed: bool,
}

impl Banner {
    /// Reads `stdout` to its end on a thread of its own (so the pipe never
    /// fills), noting the addresses as they are printed.
    fn follow(stdout: ChildStdout) -> Arc<Mutex<Banner>> {
        let banner = Arc::new(Mutex::new(Banner::default()));
        let shared = banner.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let mut banner = shared.lock().unwrap();
                if let Some(url) = line.trim().strip_prefix("API:") {
                    banner.api_url = Some(url.trim().to_string());
                } else if let Some(rest) = line
                    .trim()
                    .strip_prefix("proxy:")
                    .and_then(|r| r.trim_start().strip_prefix("http://"))
                {
                    let authority = rest.split_whitespace().next().unwrap_or_default();
                    banner.proxy_port = banner
                        .proxy_port
                        .or_else(|| authority.rsplit(':').next()?.parse().ok());
                }
            }
            shared.lock().unwrap().closed = true;
        });
        banner
    }
}
