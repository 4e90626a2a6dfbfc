//! Releases: one per deploy, numbered per app, stored at
//! `releases/{app}/{version:010}` with the fly.toml text they were made from
//! (so a rollback can deploy it again).

use hangar_store::StoreExt;
use hangar_types::{Release, ReleaseStatus};
use serde::{Deserialize, Serialize};

use crate::http::error::{HttpError, HttpResult};
use crate::platform::{now_rfc3339, ControlPlane};

/// A release as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReleaseRecord {
    pub release: Release,
    /// `rel_…`, stamped on Machines as `fly_release_id`.
    pub id: String,
    /// The fly.toml text.
    pub fly_toml: String,
}

fn key(app: &str, version: u64) -> String {
    format!("releases/{app}/{version:010}")
}

/// What a new release is made of.
pub struct NewRelease {
    pub image: String,
    pub config: serde_json::Value,
    pub fly_toml: String,
    pub secrets_version: u64,
    pub author: Option<String>,
    pub description: String,
    pub deploy_id: String,
}

impl ControlPlane {
    /// The app's releases, newest first.
    pub async fn releases(&self, app: &str) -> HttpResult<Vec<ReleaseRecord>> {
        let mut all: Vec<ReleaseRecord> = self
            .store
            .list_json::<ReleaseRecord>(&format!("releases/{app}/"))
            .await?
            .into_iter()
            .map(|(_, r, _)| r)
            .collect();
        all.reverse();
        Ok(all)
    }

    /// One release, or 404.
    pub async fn release(&self, app: &str, version: u64) -> HttpResult<ReleaseRecord> {
        self.store
            .get_json::<ReleaseRecord>(&key(app, version))
            .await?
            .map(|(r, _)| r)
            .ok_or_else(|| {
                HttpError::not_found(format!(
                    "app {app:?} has no release v{version}; list them with `hangar releases`"
                ))
            })
    }

    /// The newest release that completed, if any.
    pub async fn latest_complete_release(&self, app: &str) -> HttpResult<Option<ReleaseRecord>> {
        Ok(self
            .releases(app)
            .await?
            .into_iter()
            .find(|r| r.release.status == ReleaseStatus::Complete))
    }

    /// Records release N+1 (status `pending`).
    pub async fn create_release(&self, app: &str, new: NewRelease) -> HttpResult<ReleaseRecord> {
        loop {
            let version = self
                .releases(app)
                .await?
                .first()
                .map(|r| r.release.version + 1)
                .unwrap_or(1);
            let record = ReleaseRecord {
                release: Release {
                    version,
                    status: ReleaseStatus::Pending,
                    image: new.image.clone(),
                    config: new.config.clone(),
                    secrets_version: new.secrets_version,
                    author: new.author.clone(),
                    created_at: now_rfc3339(),
                    description: new.description.clone(),
                    deploy_id: new.deploy_id.clone(),
                    id: String::new(),
                    fly_toml: String::new(),
                },
                id: format!(
                    "rel_{}",
                    hangar_types::ids::new_instance_id().to_lowercase()
                ),
                fly_toml: new.fly_toml.clone(),
            };
            if self
                .store
                .cas_json(&key(app, version), &record, 0)
                .await?
                .is_ok()
            {
                return Ok(record);
            }
        }
    }

    /// Sets a release's status.
    pub async fn set_release_status(
        &self,
        app: &str,
        version: u64,
        status: ReleaseStatus,
    ) -> HttpResult<()> {
        let mut record = self.release(app, version).await?;
        record.release.status = status;
        self.store.put_json(&key(app, version), &record).await?;
        Ok(())
    }
}

impl ControlPlane {
    /// Deploys release `version`'s image and config again, as a new release.
    pub async fn rollback(
        self: &std::sync::Arc<Self>,
        app: &str,
        version: u64,
        author: Option<String>,
    ) -> HttpResult<hangar_types::Deployment> {
        self.app(app).await?;
        let target = self.release(app, version).await?;
        self.create_deploy(
            app,
            crate::platform::deploy::DeployInput {
                request: hangar_types::CreateDeployRequest {
                    image: target.release.image.clone(),
                    fly_toml: target.fly_toml.clone(),
                    author,
                    ..Default::default()
                },
                description: format!("Rollback to v{version}"),
            },
        )
        .await
    }
}
