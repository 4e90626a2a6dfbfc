//! HAProxy (Debian's package) as a reverse proxy in front of the benchmark's
//! backend, from a generated config: `nbthread` equal to the Hangar proxy's
//! worker threads, `http-reuse always` to the backend, no logging.

use std::net::SocketAddr;
use std::path::Path;

use super::server::{free_loopback_addr, ServerProcess};
use crate::error::BenchError;

/// The HAProxy config for `threads` threads on `listen`, proxying to
/// `backend`.
pub fn config(listen: SocketAddr, backend: SocketAddr, threads: usize) -> String {
    format!(
        "global
    nbthread {threads}
    maxconn 4096

defaults
    mode http
    option http-keep-alive
    timeout connect 5s
    timeout client 30s
    timeout server 30s
    http-reuse always

frontend bench
    bind {listen}
    default_backend backend

backend backend
    server app {backend} maxconn 4096
"
    )
}

/// Writes the config into `dir` and starts HAProxy (foreground, `-db`) on a
/// free loopback port.
pub async fn start(
    dir: &Path,
    backend: SocketAddr,
    threads: usize,
) -> Result<ServerProcess, BenchError> {
    let listen = free_loopback_addr()?;
    let path = dir.join("haproxy.cfg");
    std::fs::write(&path, config(listen, backend, threads)).map_err(|source| BenchError::Io {
        path: path.display().to_string(),
        source,
    })?;
    let conf = path.display().to_string();
    ServerProcess::start("haproxy", "haproxy", &["-db", "-f", &conf], dir, listen).await
}
