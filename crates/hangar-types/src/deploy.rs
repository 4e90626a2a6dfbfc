//! Server-side deploys: `POST /v1/apps/{app}/deploys` and the deploy's
//! progress as a stream of events (a Hangar extension to Fly's API).

use serde::{Deserialize, Serialize};

use crate::GoDuration;

/// `POST /v1/apps/{app}/deploys`: deploy `image` with the app config in
/// `fly_toml`. The deploy runs in the control plane; the answer returns as
/// soon as it is queued.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CreateDeployRequest {
    /// The image every Machine of the release runs.
    pub image: String,
    /// The text of fly.toml (TOML).
    pub fly_toml: String,
    /// Where fly.toml was read from, used in diagnostics only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_path: Option<String>,
    /// `rolling`, `immediate`, `canary` or `bluegreen`; overrides `[deploy] strategy`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<String>,
    /// Leave the fleet as it is when the deploy fails instead of reverting it.
    #[serde(default)]
    pub no_rollback: bool,
    /// New process groups with services get two Machines unless `false`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ha: Option<bool>,
    /// How long each Machine may take to start and pass its checks
    /// (overrides `[deploy] wait_timeout`; default 5m).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_timeout: Option<GoDuration>,
    /// Rolling: how many Machines of a group may be down at once (≥1: a
    /// count, <1: a fraction of the group); overrides `[deploy] max_unavailable`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_unavailable: Option<f64>,
    /// Re-apply the current Machines' configs (e.g. after a secrets change)
    /// without touching groups or running the release command.
    #[serde(default)]
    pub restart_only: bool,
    /// Who asked for the deploy (shown in releases).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
}

/// Where a deploy is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeployState {
    /// Accepted, not started yet.
    Queued,
    /// Changing Machines.
    Running,
    /// Every Machine runs the new release.
    Succeeded,
    /// Failed; the fleet was left as it was (no rollback, or the revert failed).
    Failed,
    /// Failed; returning the fleet to the previous release.
    Reverting,
    /// Failed; the fleet is back on the previous release.
    Reverted,
}

impl DeployState {
    /// The deploy will not change anything any more.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            DeployState::Succeeded | DeployState::Failed | DeployState::Reverted
        )
    }

    /// The lowercase name used on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            DeployState::Queued => "queued",
            DeployState::Running => "running",
            DeployState::Succeeded => "succeeded",
            DeployState::Failed => "failed",
            DeployState::Reverting => "reverting",
            DeployState::Reverted => "reverted",
        }
    }
}

impl std::fmt::Display for DeployState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A deploy: `POST`/`GET /v1/apps/{app}/deploys[/{id}]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Deployment {
    /// `dep_…`.
    pub id: String,
    pub app: String,
    /// The release this deploy creates.
    pub release_version: u64,
    pub state: DeployState,
    /// The strategy in use (`rolling`, `immediate`, `canary`, `bluegreen`).
    pub strategy: String,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
    /// Why the deploy failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// How serious a deploy event is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventLevel {
    Info,
    Warn,
    Error,
}

/// One step of a deploy, as a line of
/// `GET /v1/apps/{app}/deploys/{id}/events` (newline-delimited JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeployEvent {
    /// 1, 2, 3… within the deploy; pass the last one seen as `after` to resume.
    pub seq: u64,
    /// RFC 3339.
    pub time: String,
    /// `plan`, `release_command`, `update`, `create`, `destroy`, `checks`,
    /// `revert`, `done`, …
    pub phase: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machine_id: Option<String>,
    pub level: EventLevel,
}
