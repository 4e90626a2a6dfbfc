//! `/v1/apps`: list, create, get, destroy.

use hangar_types::{App, CreateAppRequest, ListAppsResponse};
use reqwest::Method;

use crate::{Client, ClientError};

impl Client {
    /// `GET /v1/apps?org_slug=…`: the apps of one organization.
    pub async fn list_apps(&self, org_slug: &str) -> Result<ListAppsResponse, ClientError> {
        let mut url = self.url(&["apps"]);
        url.query_pairs_mut().append_pair("org_slug", org_slug);
        self.get_json(url).await
    }

    /// `POST /v1/apps`: creates an app.
    pub async fn create_app(&self, request: &CreateAppRequest) -> Result<App, ClientError> {
        self.call_json(Method::POST, self.url(&["apps"]), Some(request))
            .await
    }

    /// `GET /v1/apps/{app}`.
    pub async fn get_app(&self, app: &str) -> Result<App, ClientError> {
        self.get_json(self.url(&["apps", app])).await
    }

    /// `DELETE /v1/apps/{app}`; with `force` the API stops and destroys the
    /// app's machines first.
    pub async fn destroy_app(&self, app: &str, force: bool) -> Result<(), ClientError> {
        let mut url = self.url(&["apps", app]);
        if force {
            url.query_pairs_mut().append_pair("force", "true");
        }
        self.send(Method::DELETE, url).await.map(drop)
    }
}
