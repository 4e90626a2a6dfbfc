//! What the store holds about a deploy: the record (request, phase, plan,
//! progress) at `deploys/{app}/{id}` and its events at
//! `deploy-events/{app}/{id}/{seq:012}`. The controller is the only writer
//! once the deploy is queued, so every step is persisted before the next.

use std::time::Duration;

use hangar_types::{DeployState, Deployment};
use serde::{Deserialize, Serialize};

use super::plan::Plan;

/// The deploy's inputs, fixed at creation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeploySpec {
    pub image: String,
    pub fly_toml: String,
    pub config_path: Option<String>,
    pub no_rollback: bool,
    pub ha: bool,
    pub wait_timeout_ms: u64,
    pub max_unavailable: f64,
    pub restart_only: bool,
    pub release_command_timeout_ms: u64,
    /// The secrets version changed since the release before: every Machine
    /// restarts even if its config did not change.
    pub secrets_changed: bool,
    /// The release's secrets version, passed as `min_secrets_version`.
    #[serde(default)]
    pub secrets_version: u64,
}

impl DeploySpec {
    pub fn wait_timeout(&self) -> Duration {
        Duration::from_millis(self.wait_timeout_ms)
    }
}

/// Where the controller is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Waiting for the app's earlier deploys.
    Queued,
    /// Running the release command (nothing else changed yet).
    ReleaseCommand,
    /// Applying the plan, batch by batch.
    Rollout,
    /// Undoing the batches applied so far, newest first.
    Reverting,
    /// Over.
    Done,
}

/// A deploy as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeployRecord {
    pub deployment: Deployment,
    pub spec: DeploySpec,
    /// `fly_release_id` of the release being rolled out.
    pub release_id: String,
    pub phase: Phase,
    /// Computed once, when the rollout starts.
    pub plan: Option<Plan>,
    /// The first batch of the plan not yet finished.
    pub next_batch: u32,
    /// The next event's sequence number.
    pub next_seq: u64,
}

impl DeployRecord {
    pub fn is_final(&self) -> bool {
        self.deployment.state.is_final()
    }

    pub fn set_state(&mut self, state: DeployState) {
        self.deployment.state = state;
        self.deployment.updated_at = crate::platform::now_rfc3339();
    }
}

pub fn record_key(app: &str, id: &str) -> String {
    format!("deploys/{app}/{id}")
}

pub fn events_prefix(app: &str, id: &str) -> String {
    format!("deploy-events/{app}/{id}/")
}

pub fn event_key(app: &str, id: &str, seq: u64) -> String {
    format!("deploy-events/{app}/{id}/{seq:012}")
}
