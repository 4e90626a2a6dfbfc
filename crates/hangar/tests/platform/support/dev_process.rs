//! `hangar dev` as a child process of a test: every listener on a loopback
//! port the kernel picks, the addresses read back from the banner it prints,
//! and the process never left running once the test is done.

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
    /// takes longer than [`STOP_TIMEOUT`].
    pub fn stop(mut self) -> ExitStatus {
        terminate(self.child.take().expect("running"))
    }

    /// SIGKILL, as a crash would: its Machines' state is left as it is.
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
        }
    }
}

/// SIGCONT (in case a test froze it), SIGTERM, a bounded wait, then SIGKILL.
fn terminate(mut child: Child) -> ExitStatus {
    for signal in [libc::SIGCONT, libc::SIGTERM] {
        // SAFETY: kill(2) on our own child's pid, not yet reaped.
        unsafe { libc::kill(child.id() as i32, signal) };
    }
    let deadline = Instant::now() + STOP_TIMEOUT;
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return status;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    child.wait().expect("reap hangar dev")
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
