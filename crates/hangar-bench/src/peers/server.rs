//! A peer server (nginx, HAProxy) run in the foreground as a child of the
//! benchmark: started from a generated config in the run's work dir,
//! waited for until it answers HTTP, and stopped (SIGTERM, then SIGKILL)
//! when the run is done or fails.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

use crate::error::BenchError;

/// How long a peer may take to answer after it was started.
const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a peer may take to exit after SIGTERM.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// A running peer server.
pub struct ServerProcess {
    name: &'static str,
    child: Child,
    stderr_log: PathBuf,
    /// Where it accepts HTTP.
    pub addr: SocketAddr,
}

impl ServerProcess {
    /// Starts `program args…` (which must stay in the foreground), its
    /// stderr going to `dir/<name>.stderr`, and waits until `addr` answers.
    pub async fn start(
        name: &'static str,
        program: &str,
        args: &[&str],
        dir: &Path,
        addr: SocketAddr,
    ) -> Result<ServerProcess, BenchError> {
        let stderr_log = dir.join(format!("{name}.stderr"));
        let stderr = std::fs::File::create(&stderr_log).map_err(|source| BenchError::Io {
            path: stderr_log.display().to_string(),
            source,
        })?;
        let child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .kill_on_drop(true)
            .spawn()
            .map_err(|source| BenchError::Spawn {
                command: format!("{program} {}", args.join(" ")),
                source,
            })?;
        let mut server = ServerProcess {
            name,
            child,
            stderr_log,
            addr,
        };
        if let Err(e) = crate::probe::wait_http(addr, READY_TIMEOUT).await {
            let exited = server.child.try_wait().ok().flatten();
            let log = std::fs::read_to_string(&server.stderr_log).unwrap_or_default();
            server.stop().await;
            return Err(BenchError::CommandFailed {
                command: format!("{program} {}", args.join(" ")),
                status: match exited {
                    Some(status) => format!("exited: {status}"),
                    None => format!("running but not answering: {e}"),
                },
                stderr: log.trim().to_string(),
            });
        }
        Ok(server)
    }

    /// The server's main process (nginx's master), while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Stops the server: SIGTERM (nginx's and HAProxy's fast shutdown, which
    /// also ends nginx's workers), then SIGKILL if it has not exited in time.
    pub async fn stop(mut self) {
        if let Some(pid) = self.child.id() {
            let _ = Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status()
                .await;
        }
        if tokio::time::timeout(STOP_TIMEOUT, self.child.wait())
            .await
            .is_err()
        {
            eprintln!(
                "hangar-bench: {} did not exit {STOP_TIMEOUT:?} after SIGTERM; killing it",
                self.name
            );
            let _ = self.child.kill().await;
        }
    }
}

/// A loopback address with a port that was free a moment ago.
pub fn free_loopback_addr() -> Result<SocketAddr, BenchError> {
    let io = |source| BenchError::Io {
        path: "127.0.0.1:0".into(),
        source,
    };
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(io)
}
