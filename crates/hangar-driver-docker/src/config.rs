//! How to reach the Docker daemon.

use std::path::PathBuf;

/// Configuration of a [`crate::DockerDriver`].
#[derive(Debug, Clone)]
pub struct DockerDriverConfig {
    /// The daemon's unix socket; `None` uses `DOCKER_HOST` (if it is a
    /// `unix://` address) or `/var/run/docker.sock`.
    pub socket: Option<PathBuf>,
    /// Prefix of the names of the bridge networks the driver creates.
    pub network_prefix: String,
}

impl Default for DockerDriverConfig {
    fn default() -> Self {
        DockerDriverConfig {
            socket: None,
            network_prefix: "hangar".into(),
        }
    }
}

impl DockerDriverConfig {
    /// The socket path actually used.
    pub fn socket_path(&self) -> PathBuf {
        if let Some(path) = &self.socket {
            return path.clone();
        }
        std::env::var("DOCKER_HOST")
            .ok()
            .and_then(|host| host.strip_prefix("unix://").map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from("/var/run/docker.sock"))
    }
}
