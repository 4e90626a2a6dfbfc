//! Releases (a Hangar extension): list them and roll back to one.

use hangar_types::{Deployment, Release};
use reqwest::Method;

use crate::{Client, ClientError};

impl Client {
    /// `GET /v1/apps/{app}/releases`: newest first.
    pub async fn list_releases(&self, app: &str) -> Result<Vec<Release>, ClientError> {
        self.get_json(self.url(&["apps", app, "releases"])).await
    }

    /// `POST /v1/apps/{app}/releases/{version}/rollback`: deploys that
    /// release's image and config as a new release. 404 when the version
    /// does not exist.
    pub async fn rollback_release(
        &self,
        app: &str,
        version: u64,
    ) -> Result<Deployment, ClientError> {
        let version = version.to_string();
        self.call_json(
            Method::POST,
            self.url(&["apps", app, "releases", &version, "rollback"]),
            None::<&()>,
        )
        .await
    }
}
