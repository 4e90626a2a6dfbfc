//! nginx (Debian's package) as a reverse proxy in front of the benchmark's
//! backend, from a generated config: `worker_processes` equal to the Hangar
//! proxy's worker threads, a keep-alive pool to the backend, no access log.

use std::net::SocketAddr;
use std::path::Path;

use super::server::{free_loopback_addr, ServerProcess};
use crate::error::BenchError;

/// Idle keep-alive connections each worker keeps to the backend.
const UPSTREAM_KEEPALIVE: usize = 128;

/// The nginx config for `workers` workers on `listen`, proxying to `backend`;
/// every path it writes is under `dir`.
pub fn config(dir: &Path, listen: SocketAddr, backend: SocketAddr, workers: usize) -> String {
    let dir = dir.display();
    format!(
        "daemon off;
master_process on;
worker_processes {workers};
pid {dir}/nginx.pid;
error_log stderr warn;
events {{
    worker_connections 4096;
}}
http {{
    access_log off;
    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    keepalive_requests 1000000;
    upstream backend {{
        server {backend};
        keepalive {UPSTREAM_KEEPALIVE};
        keepalive_requests 1000000;
    }}
    server {{
        listen {listen};
        location / {{
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection \"\";
            proxy_set_header Host $host;
        }}
    }}
}}
"
    )
}

/// Writes the config into `dir` and starts nginx on a free loopback port.
pub async fn start(
    dir: &Path,
    backend: SocketAddr,
    workers: usize,
) -> Result<ServerProcess, BenchError> {
    let listen = free_loopback_addr()?;
    let path = dir.join("nginx.conf");
    std::fs::write(&path, config(dir, listen, backend, workers)).map_err(|source| {
        BenchError::Io {
            path: path.display().to_string(),
            source,
        }
    })?;
    let conf = path.display().to_string();
    let prefix = dir.display().to_string();
    ServerProcess::start(
        "nginx",
        "nginx",
        &["-c", &conf, "-p", &prefix, "-e", "stderr"],
        dir,
        listen,
    )
    .await
}
