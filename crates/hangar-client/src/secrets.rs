//! App secrets (a Hangar extension): values go in, only names and digests
//! come out.

use std::collections::BTreeMap;

use hangar_types::{SecretInfo, SecretsChanged, SetSecretsRequest, UnsetSecretsRequest};
use reqwest::Method;

use crate::{Client, ClientError};

impl Client {
    /// `GET /v1/apps/{app}/secrets`: names, digests and times, never values.
    pub async fn list_secrets(&self, app: &str) -> Result<Vec<SecretInfo>, ClientError> {
        self.get_json(self.url(&["apps", app, "secrets"])).await
    }

    /// `POST /v1/apps/{app}/secrets`: sets secrets; unless `stage`, a
    /// restart-only deploy applies them (returned in the answer).
    pub async fn set_secrets(
        &self,
        app: &str,
        values: BTreeMap<String, String>,
        stage: bool,
    ) -> Result<SecretsChanged, ClientError> {
        let body = SetSecretsRequest { values, stage };
        self.call_json(
            Method::POST,
            self.url(&["apps", app, "secrets"]),
            Some(&body),
        )
        .await
    }

    /// `DELETE /v1/apps/{app}/secrets`: removes secrets; unless `stage`, a
    /// restart-only deploy applies the change.
    pub async fn unset_secrets(
        &self,
        app: &str,
        names: Vec<String>,
        stage: bool,
    ) -> Result<SecretsChanged, ClientError> {
        let body = UnsetSecretsRequest { names, stage };
        self.call_json(
            Method::DELETE,
            self.url(&["apps", app, "secrets"]),
            Some(&body),
        )
        .await
    }
}
