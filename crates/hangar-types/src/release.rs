//! Releases: one per deploy, numbered per app (`GET /v1/apps/{app}/releases`).

use serde::{Deserialize, Serialize};

/// Where a release is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReleaseStatus {
    /// Created, its deploy has not started.
    Pending,
    /// Its deploy is rolling it out.
    Running,
    /// Every Machine runs it.
    Complete,
    /// Its deploy failed.
    Failed,
    /// A later rollback replaced it.
    Reverted,
}

impl ReleaseStatus {
    /// The lowercase name used on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ReleaseStatus::Pending => "pending",
            ReleaseStatus::Running => "running",
            ReleaseStatus::Complete => "complete",
            ReleaseStatus::Failed => "failed",
            ReleaseStatus::Reverted => "reverted",
        }
    }
}

impl std::fmt::Display for ReleaseStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One release of an app.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Release {
    /// 1, 2, 3… per app.
    pub version: u64,
    pub status: ReleaseStatus,
    pub image: String,
    /// The parsed app config (fly.toml, normalized) as JSON.
    #[schema(value_type = Object)]
    pub config: serde_json::Value,
    /// The secrets version the release's Machines boot with.
    pub secrets_version: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    /// What the release did (`Deploy image …`, `Restart for secrets`, `Rollback to v3`).
    pub description: String,
    /// The deploy that rolled it out.
    pub deploy_id: String,
    /// `rel_…`, stamped on its Machines as `fly_release_id` (in API answers).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// The fly.toml text it was made from (in API answers), for commands
    /// that work from the release's config (`scale count`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub fly_toml: String,
}
