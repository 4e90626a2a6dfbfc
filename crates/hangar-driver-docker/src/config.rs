//! How to reach the Docker daemon, and whose objects the driver manages.

use std::path::PathBuf;
use std::time::Duration;

/// Configuration of a [`crate::DockerDriver`].
#[derive(Debug, Clone)]
pub struct DockerDriverConfig {
    /// The daemon's unix socket; `None` uses `DOCKER_HOST` (if it is a
    /// `unix://` address) or `/var/run/docker.sock`.
    pub socket: Option<PathBuf>,
    /// Prefix of the names of the bridge networks the driver creates.
    pub network_prefix: String,
    /// Who owns the containers and images this driver creates (label
    /// `dev.hangar.owner`): one value per agent sharing the daemon, so that
    /// one agent's sweeps never touch another's objects.
    pub owner: String,
    /// How long a loaded image stays after no Machine uses it any more (a
    /// Machine started from it and destroyed; a new Machine from the same
    /// image within it does not reload it).
    pub image_grace: Duration,
}

impl Default for DockerDriverConfig {
    fn default() -> Self {
        DockerDriverConfig {
            socket: None,
            network_prefix: "hangar".into(),
            owner: "hangar".into(),
            image_grace: Duration::from_secs(600),
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
