//! Repositories belong to apps: a push to `<app>` or `<app>/…` is accepted
//! only when the app exists. The registry does not own apps; the control
//! plane that serves it answers through an [`AppDirectory`].

use crate::error::{ErrorCode, RegistryError};
use crate::names::RepoName;
use crate::Registry;

/// Tells the registry which apps exist.
#[async_trait::async_trait]
pub trait AppDirectory: Send + Sync + 'static {
    /// Whether an app named `app` exists; `Err` carries why it could not be told.
    async fn app_exists(&self, app: &str) -> Result<bool, String>;
}

impl Registry {
    /// Refuses pushes to repositories of apps that do not exist (from now on;
    /// without a directory every name is accepted, as a standalone registry).
    pub fn check_apps_with(&self, apps: std::sync::Arc<dyn AppDirectory>) {
        let _ = self.apps.set(apps);
    }

    /// DENIED unless `repo`'s app exists (or no directory was given).
    pub(crate) async fn require_app(&self, repo: &RepoName) -> Result<(), RegistryError> {
        let Some(apps) = self.apps.get() else {
            return Ok(());
        };
        let app = repo.app();
        match apps.app_exists(app).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(RegistryError::new(
                ErrorCode::Denied,
                format!(
                    "app {app:?} does not exist, so repository {repo} cannot be pushed to: create \
                     the app first (`hangar apps create {app}`), then push again"
                ),
            )
            .with_detail(serde_json::json!({ "app": app }))),
            Err(reason) => Err(RegistryError::AppLookup(reason)),
        }
    }
}
