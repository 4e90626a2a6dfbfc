//! Server-side deploys (a Hangar extension): start one, read it, list them,
//! and stream its events.

use futures_util::stream::BoxStream;
use hangar_types::{CreateDeployRequest, DeployEvent, Deployment};
use reqwest::Method;

use crate::logs::decode_log_lines;
use crate::{Client, ClientError};

/// Events of a deploy in order. Ends when the server closes the answer:
/// once the deploy is over with `follow`, right after the replay without.
pub type DeployEventStream = BoxStream<'static, Result<DeployEvent, ClientError>>;

impl Client {
    /// `POST /v1/apps/{app}/deploys`: queues a deploy and returns it at once
    /// (state `queued`). A bad fly.toml is an [`ClientError::Api`] with status
    /// 400 whose message lists the diagnostics.
    pub async fn create_deploy(
        &self,
        app: &str,
        request: &CreateDeployRequest,
    ) -> Result<Deployment, ClientError> {
        self.call_json(
            Method::POST,
            self.url(&["apps", app, "deploys"]),
            Some(request),
        )
        .await
    }

    /// `GET /v1/apps/{app}/deploys/{id}`.
    pub async fn get_deploy(&self, app: &str, id: &str) -> Result<Deployment, ClientError> {
        self.get_json(self.url(&["apps", app, "deploys", id])).await
    }

    /// `GET /v1/apps/{app}/deploys`: newest first.
    pub async fn list_deploys(&self, app: &str) -> Result<Vec<Deployment>, ClientError> {
        self.get_json(self.url(&["apps", app, "deploys"])).await
    }

    /// `GET /v1/apps/{app}/deploys/{id}/events?after=SEQ&follow=`: the events
    /// after `after` (0: from the start); with `follow` the stream stays open
    /// until the deploy ends. To re-attach, pass the last `seq` seen.
    pub async fn deploy_events(
        &self,
        app: &str,
        id: &str,
        after: u64,
        follow: bool,
    ) -> Result<DeployEventStream, ClientError> {
        let mut url = self.url(&["apps", app, "deploys", id, "events"]);
        url.query_pairs_mut()
            .append_pair("after", &after.to_string())
            .append_pair("follow", if follow { "true" } else { "false" });
        let streaming = if follow {
            self.with_request_timeout(None)
        } else {
            self.clone()
        };
        let response = streaming.send(Method::GET, url.clone()).await?;
        let client = self.clone();
        let error_url = url.clone();
        let map_err = move |source| client.transport_error(&Method::GET, &error_url, source);
        Ok(decode_log_lines(
            response.bytes_stream(),
            url.to_string(),
            map_err,
        ))
    }
}
