//! Per-app quotas: the bytes of distinct blobs (layers, configs and
//! manifests) the app's repositories hold.

use std::collections::HashMap;

use crate::error::{ErrorCode, RegistryError};
use crate::names::{Digest, RepoName};
use crate::Registry;

impl Registry {
    /// Bytes of distinct blobs in the app's repositories.
    pub async fn usage(&self, app: &str) -> Result<u64, RegistryError> {
        Ok(self.app_blobs(app).await?.values().sum())
    }

    /// The app's quota: its own setting, else the default.
    pub async fn quota(&self, app: &str) -> Result<u64, RegistryError> {
        Ok(self
            .meta
            .quota(app)
            .await?
            .unwrap_or(self.config.default_quota_bytes))
    }

    /// Refuses (403 DENIED) adding `new` blobs to `repo` if the app would
    /// then hold more than its quota. Blobs the app already holds are free.
    pub(crate) async fn check_quota(
        &self,
        repo: &RepoName,
        new: &[(Digest, u64)],
    ) -> Result<(), RegistryError> {
        let app = repo.app();
        let mut blobs = self.app_blobs(app).await?;
        let before: u64 = blobs.values().sum();
        for (digest, size) in new {
            blobs.entry(digest.clone()).or_insert(*size);
        }
        let after: u64 = blobs.values().sum();
        let quota = self.quota(app).await?;
        if after <= quota || after == before {
            return Ok(());
        }
        Err(RegistryError::new(
            ErrorCode::Denied,
            format!(
                "registry quota exceeded: app {app:?} may store {quota} bytes of images and this \
                 push would bring it to {after} bytes (now {before}); delete unused tags or \
                 manifests and run garbage collection, or ask the operator to raise the quota"
            ),
        )
        .with_detail(
            serde_json::json!({ "app": app, "quota": quota, "usage": before, "requested": after }),
        ))
    }

    async fn app_blobs(&self, app: &str) -> Result<HashMap<Digest, u64>, RegistryError> {
        let mut blobs = HashMap::new();
        for repo in self.meta.app_repositories(app).await? {
            for (digest, link) in repo.links {
                blobs.insert(digest, link.size);
            }
            for (digest, manifest) in repo.manifests {
                blobs.insert(digest, manifest.size);
            }
        }
        Ok(blobs)
    }
}
