//! `…/{id}/lease`: take, refresh, show and release a machine's lease.

use hangar_types::{CreateLeaseRequest, LeaseEnvelope};
use reqwest::Method;

use crate::{Client, ClientError};

impl Client {
    /// `POST …/{id}/lease`: takes the lease. A lease held by someone else
    /// answers 409 ([`ClientError::Api`] with status 409).
    pub async fn acquire_lease(
        &self,
        app: &str,
        machine_id: &str,
        request: &CreateLeaseRequest,
    ) -> Result<LeaseEnvelope, ClientError> {
        let url = self.url(&["apps", app, "machines", machine_id, "lease"]);
        let response = self
            .send_with(Method::POST, url.clone(), None, Some(request))
            .await?;
        self.decode(&Method::POST, &url, response).await
    }

    /// `POST …/{id}/lease` with the nonce of a held lease: extends it.
    pub async fn refresh_lease(
        &self,
        app: &str,
        machine_id: &str,
        nonce: &str,
        request: &CreateLeaseRequest,
    ) -> Result<LeaseEnvelope, ClientError> {
        let url = self.url(&["apps", app, "machines", machine_id, "lease"]);
        let response = self
            .send_with(Method::POST, url.clone(), Some(nonce), Some(request))
            .await?;
        self.decode(&Method::POST, &url, response).await
    }

    /// `GET …/{id}/lease`: the current lease; 404 when there is none.
    pub async fn get_lease(
        &self,
        app: &str,
        machine_id: &str,
    ) -> Result<LeaseEnvelope, ClientError> {
        self.get_json(self.url(&["apps", app, "machines", machine_id, "lease"]))
            .await
    }

    /// `DELETE …/{id}/lease` with the lease's nonce.
    pub async fn release_lease(
        &self,
        app: &str,
        machine_id: &str,
        nonce: &str,
    ) -> Result<(), ClientError> {
        let url = self.url(&["apps", app, "machines", machine_id, "lease"]);
        self.send_with(Method::DELETE, url, Some(nonce), None::<&()>)
            .await
            .map(drop)
    }
}
