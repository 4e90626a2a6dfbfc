//! The [`Client`]: base URL, token and the request plumbing shared by every
//! endpoint method.

use std::time::Duration;

use reqwest::{Method, Response, StatusCode, Url};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::discovery::Credentials;
use crate::error::{error_message, ClientError};

/// Header carrying a lease nonce on mutating machine calls.
pub const LEASE_NONCE_HEADER: &str = "fly-machine-lease-nonce";

/// How long one request may take by default: long enough for a create that
/// pulls a large image, short enough that a hung server is noticed.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(300);

/// A client of one Hangar API endpoint. Cheap to clone.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    /// The URL as the user gave it, for messages.
    base_url: String,
    /// `{base}/v1`: every path hangs below it.
    api_root: Url,
    token: String,
    lease_nonce: Option<String>,
    pub(crate) request_timeout: Option<Duration>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.base_url)
            .field("lease_nonce", &self.lease_nonce)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client for the API at `base_url` (such as `http://127.0.0.1:4280`;
    /// a trailing `/v1` is accepted) authenticating with `token`.
    pub fn new(base_url: &str, token: impl Into<String>) -> Result<Self, ClientError> {
        let api_root = api_root(base_url)?;
        // reqwest's rustls backend is built without a default crypto
        // provider (to keep aws-lc out); install ring's once per process.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("hangar-client/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|err| ClientError::InvalidUrl {
                url: base_url.to_string(),
                reason: format!("cannot build an HTTP client: {err}"),
            })?;
        Ok(Client {
            http,
            base_url: base_url.trim_end_matches('/').to_string(),
            api_root,
            token: token.into(),
            lease_nonce: None,
            request_timeout: Some(DEFAULT_REQUEST_TIMEOUT),
        })
    }

    /// A client for the API described by `credentials`.
    pub fn from_credentials(credentials: &Credentials) -> Result<Self, ClientError> {
        Client::new(&credentials.api_url, credentials.token.clone())
    }

    /// A client configured from `HANGAR_API_URL`/`HANGAR_API_TOKEN`, falling
    /// back to the files `hangar dev` writes (see [`crate::discovery`]).
    pub fn from_env() -> Result<Self, ClientError> {
        Client::from_credentials(&Credentials::discover()?)
    }

    /// The API URL this client talks to, as given.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// A copy of this client that sends `nonce` in the
    /// `fly-machine-lease-nonce` header on every request, as a lease holder must.
    pub fn with_lease_nonce(&self, nonce: impl Into<String>) -> Client {
        Client {
            lease_nonce: Some(nonce.into()),
            ..self.clone()
        }
    }

    /// A copy of this client whose requests may take at most `timeout`
    /// (`None`: no limit). Streams (`machine_logs` with `follow`) are never limited.
    pub fn with_request_timeout(&self, timeout: Option<Duration>) -> Client {
        Client {
            request_timeout: timeout,
            ..self.clone()
        }
    }

    /// The bearer token sent with every request.
    pub(crate) fn token(&self) -> &str {
        &self.token
    }

    /// The URL of `/v1/{segments…}`, each segment percent-encoded.
    pub(crate) fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.api_root.clone();
        url.path_segments_mut()
            .expect("api_root was checked to be a base URL")
            .pop_if_empty()
            .extend(segments);
        url
    }

    /// Sends a request without a body and checks its status.
    pub(crate) async fn send(&self, method: Method, url: Url) -> Result<Response, ClientError> {
        self.send_with(method, url, None, None::<&()>).await
    }

    /// Sends a request with a JSON body and checks its status.
    pub(crate) async fn send_json<B: Serialize + ?Sized>(
        &self,
        method: Method,
        url: Url,
        body: &B,
    ) -> Result<Response, ClientError> {
        self.send_with(method, url, None, Some(body)).await
    }

    /// Sends a request, with an optional explicit lease nonce and JSON body,
    /// and turns error statuses into [`ClientError`]s.
    pub(crate) async fn send_with<B: Serialize + ?Sized>(
        &self,
        method: Method,
        url: Url,
        lease_nonce: Option<&str>,
        body: Option<&B>,
    ) -> Result<Response, ClientError> {
        let mut request = self
            .http
            .request(method.clone(), url.clone())
            .bearer_auth(&self.token);
        if let Some(nonce) = lease_nonce.or(self.lease_nonce.as_deref()) {
            request = request.header(LEASE_NONCE_HEADER, nonce);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        if let Some(timeout) = self.request_timeout {
            request = request.timeout(timeout);
        }
        let response = request
            .send()
            .await
            .map_err(|source| self.transport_error(&method, &url, source))?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let body = response.bytes().await.unwrap_or_default();
        let message = error_message(status, &body);
        if status == StatusCode::UNAUTHORIZED {
            return Err(ClientError::Unauthorized {
                url: self.base_url.clone(),
                message,
            });
        }
        Err(ClientError::Api {
            status: status.as_u16(),
            message,
        })
    }

    /// Reads a JSON answer.
    pub(crate) async fn decode<T: DeserializeOwned>(
        &self,
        method: &Method,
        url: &Url,
        response: Response,
    ) -> Result<T, ClientError> {
        let body = response
            .bytes()
            .await
            .map_err(|source| self.transport_error(method, url, source))?;
        serde_json::from_slice(&body).map_err(|source| ClientError::Decode {
            method: method.to_string(),
            url: url.to_string(),
            source,
        })
    }

    /// `GET` a JSON resource.
    pub(crate) async fn get_json<T: DeserializeOwned>(&self, url: Url) -> Result<T, ClientError> {
        let response = self.send(Method::GET, url.clone()).await?;
        self.decode(&Method::GET, &url, response).await
    }

    /// Sends `body` (if any) with `method` and reads a JSON answer.
    pub(crate) async fn call_json<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        method: Method,
        url: Url,
        body: Option<&B>,
    ) -> Result<T, ClientError> {
        let response = self
            .send_with(method.clone(), url.clone(), None, body)
            .await?;
        self.decode(&method, &url, response).await
    }

    pub(crate) fn transport_error(
        &self,
        method: &Method,
        url: &Url,
        source: reqwest::Error,
    ) -> ClientError {
        if source.is_connect() {
            ClientError::Unreachable {
                url: self.base_url.clone(),
                cause: source,
            }
        } else if source.is_timeout() {
            ClientError::Timeout {
                method: method.to_string(),
                url: url.to_string(),
                timeout: self.request_timeout.unwrap_or_default().into(),
            }
        } else {
            ClientError::Transport {
                method: method.to_string(),
                url: url.to_string(),
                source,
            }
        }
    }
}

/// Parses a user-given base URL into the `/v1` root.
fn api_root(base_url: &str) -> Result<Url, ClientError> {
    let invalid = |reason: &str| ClientError::InvalidUrl {
        url: base_url.to_string(),
        reason: reason.to_string(),
    };
    let mut url = Url::parse(base_url.trim()).map_err(|err| invalid(&err.to_string()))?;
    match url.scheme() {
        "http" => {}
        "https" => return Err(invalid(
            "https is not supported by this build yet; use the http:// address `hangar dev` prints",
        )),
        other => return Err(invalid(&format!("the scheme must be http, not {other}"))),
    }
    if url.cannot_be_a_base() || url.host().is_none() {
        return Err(invalid("it has no host"));
    }
    url.set_query(None);
    url.set_fragment(None);
    {
        let mut segments = url
            .path_segments_mut()
            .map_err(|()| invalid("it cannot carry a path"))?;
        segments.pop_if_empty();
    }
    if url.path_segments().and_then(|mut s| s.next_back()) != Some("v1") {
        url.path_segments_mut()
            .map_err(|()| invalid("it cannot carry a path"))?
            .push("v1");
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_with_and_without_v1_give_the_same_paths() {
        for base in [
            "http://127.0.0.1:4280",
            "http://127.0.0.1:4280/",
            "http://127.0.0.1:4280/v1",
            "http://127.0.0.1:4280/v1/",
        ] {
            let client = Client::new(base, "t").unwrap();
            assert_eq!(
                client.url(&["apps", "demo", "machines"]).as_str(),
                "http://127.0.0.1:4280/v1/apps/demo/machines",
                "{base}"
            );
        }
    }

    #[test]
    fn path_segments_are_escaped() {
        let client = Client::new("http://h:1/prefix", "t").unwrap();
        assert_eq!(
            client
                .url(&["apps", "a", "machines", "m", "metadata", "a/b c"])
                .as_str(),
            "http://h:1/prefix/v1/apps/a/machines/m/metadata/a%2Fb%20c"
        );
    }

    #[test]
    fn unusable_urls_are_rejected_with_advice() {
        for bad in [
            "127.0.0.1:4280",
            "https://example.test",
            "ftp://h/",
            "not a url",
        ] {
            let err = Client::new(bad, "t").unwrap_err();
            assert!(
                matches!(err, ClientError::InvalidUrl { .. }),
                "{bad}: {err:?}"
            );
            assert!(err.to_string().contains("HANGAR_API_URL"), "{err}");
        }
    }
}
