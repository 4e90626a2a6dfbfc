//! The runtime defaults an image carries, as the driver consumes them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::spec::ContainerConfig;

/// What an image says about how to run it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageConfig {
    /// Environment as `KEY=VALUE` strings.
    #[serde(default)]
    pub env: Vec<String>,
    /// Entrypoint argv; empty when the image sets none.
    #[serde(default)]
    pub entrypoint: Vec<String>,
    /// Default arguments (or command when there is no entrypoint).
    #[serde(default)]
    pub cmd: Vec<String>,
    /// `user`, `uid`, `user:group` or `uid:gid`; `None` means root.
    #[serde(default)]
    pub user: Option<String>,
    /// Working directory; `None` means `/`.
    #[serde(default)]
    pub working_dir: Option<String>,
    /// Ports as `PORT/PROTO`, for example `8080/tcp`.
    #[serde(default)]
    pub exposed_ports: Vec<String>,
    /// Image labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Signal name or number to stop the process with, for example `SIGTERM`.
    #[serde(default)]
    pub stop_signal: Option<String>,
}

impl From<ContainerConfig> for ImageConfig {
    fn from(c: ContainerConfig) -> Self {
        ImageConfig {
            env: c.env.unwrap_or_default(),
            entrypoint: c.entrypoint.unwrap_or_default(),
            cmd: c.cmd.unwrap_or_default(),
            user: c.user.filter(|u| !u.is_empty()),
            working_dir: c.working_dir.filter(|w| !w.is_empty()),
            exposed_ports: c
                .exposed_ports
                .map(|ports| ports.into_keys().collect())
                .unwrap_or_default(),
            labels: c.labels.unwrap_or_default(),
            stop_signal: c.stop_signal.filter(|s| !s.is_empty()),
        }
    }
}

impl From<&ImageConfig> for ContainerConfig {
    fn from(c: &ImageConfig) -> Self {
        fn some_if<T>(value: T, present: bool) -> Option<T> {
            present.then_some(value)
        }
        ContainerConfig {
            user: c.user.clone(),
            exposed_ports: some_if(
                c.exposed_ports
                    .iter()
                    .map(|p| (p.clone(), serde_json::json!({})))
                    .collect(),
                !c.exposed_ports.is_empty(),
            ),
            env: some_if(c.env.clone(), !c.env.is_empty()),
            entrypoint: some_if(c.entrypoint.clone(), !c.entrypoint.is_empty()),
            cmd: some_if(c.cmd.clone(), !c.cmd.is_empty()),
            working_dir: c.working_dir.clone(),
            labels: some_if(c.labels.clone(), !c.labels.is_empty()),
            stop_signal: c.stop_signal.clone(),
        }
    }
}
