//! The read side of the OCI distribution API: manifests and blobs, with anonymous,
//! bearer-token (challenge) and basic authentication.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use reqwest::header::{HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use reqwest::{Client, Response, StatusCode};
use sha2::{Digest as _, Sha256};
use tokio::io::AsyncWriteExt;

use crate::digest::Digest;
use crate::error::ImageError;
use crate::reference::RegistryReference;
use crate::spec;

/// Registry credentials: `host=USER:PASSWORD` pairs separated by commas.
pub const REGISTRY_AUTH_ENV: &str = "HANGAR_REGISTRY_AUTH";

/// Every manifest media type the store understands, for the `Accept` header.
const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
     application/vnd.oci.image.manifest.v1+json, \
     application/vnd.docker.distribution.manifest.list.v2+json, \
     application/vnd.docker.distribution.manifest.v2+json";

/// Per-registry user and password.
#[derive(Clone, Debug, Default)]
pub(crate) struct Credentials {
    by_registry: HashMap<String, (String, String)>,
}

impl Credentials {
    /// Reads `HANGAR_REGISTRY_AUTH`; malformed pairs are skipped with a warning.
    pub(crate) fn from_env() -> Credentials {
        let mut by_registry = HashMap::new();
        if let Ok(text) = std::env::var(REGISTRY_AUTH_ENV) {
            for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                let parsed = pair.split_once('=').and_then(|(host, secret)| {
                    let (user, password) = secret.split_once(':')?;
                    Some((host.to_owned(), (user.to_owned(), password.to_owned())))
                });
                match parsed {
                    Some((host, login)) => {
                        by_registry.insert(host, login);
                    }
                    None => tracing::warn!(
                        "{REGISTRY_AUTH_ENV} entry is not HOST=USER:PASSWORD; ignoring it"
                    ),
                }
            }
        }
        Credentials { by_registry }
    }

    /// Sets the login for one registry host.
    pub(crate) fn insert(&mut self, registry: &str, user: &str, password: &str) {
        self.by_registry
            .insert(registry.to_owned(), (user.to_owned(), password.to_owned()));
    }

    fn for_registry(&self, registry: &str) -> Option<&(String, String)> {
        self.by_registry.get(registry)
    }
}

/// Builds the HTTP client: rustls with ring and the webpki root certificates.
pub(crate) fn http_client() -> Result<Client, String> {
    // Another part of the process may have installed a provider already; either is fine.
    let _ = rustls::crypto::ring::default_provider().install_default();
    Client::builder()
        .user_agent(concat!("hangar-image/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(15))
        .read_timeout(Duration::from_secs(120))
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))
}

/// Pulls from one repository of one registry, remembering the token it was granted.
pub(crate) struct RegistrySession {
    http: Client,
    reference: String,
    target: RegistryReference,
    base: String,
    login: Option<(String, String)>,
    authorization: Option<Authorization>,
}

/// What to send with each request once the registry has asked for credentials.
enum Authorization {
    Bearer(HeaderValue),
    Basic { user: String, password: String },
}

impl RegistrySession {
    pub(crate) fn new(
        http: Client,
        reference: &str,
        target: &RegistryReference,
        credentials: &Credentials,
    ) -> RegistrySession {
        RegistrySession {
            http,
            reference: reference.to_owned(),
            base: target.api_base(),
            login: credentials.for_registry(&target.registry).cloned(),
            target: target.clone(),
            authorization: None,
        }
    }

    /// Fetches the manifest named by tag or digest; returns its bytes and content type.
    pub(crate) async fn manifest(
        &mut self,
        selector: &str,
    ) -> Result<(Vec<u8>, Option<String>), ImageError> {
        let url = format!(
            "{}/v2/{}/manifests/{selector}",
            self.base, self.target.repository
        );
        let what = format!("manifest {selector}");
        let response = self.get(&url, Some(MANIFEST_ACCEPT), &what).await?;
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = self
            .read_limited(response, spec::MAX_MANIFEST_BYTES, &what)
            .await?;
        Ok((bytes, content_type))
    }

    /// Fetches a small blob whole and verifies it.
    pub(crate) async fn small_blob(
        &mut self,
        digest: &Digest,
        max: u64,
    ) -> Result<Vec<u8>, ImageError> {
        let url = self.blob_url(digest);
        let what = format!("blob {digest}");
        let response = self.get(&url, None, &what).await?;
        let bytes = self.read_limited(response, max, &what).await?;
        let actual = Digest::of(&bytes);
        if &actual != digest {
            return Err(ImageError::DigestMismatch {
                what: format!(
                    "blob served by {} for {}",
                    self.target.registry, self.reference
                ),
                expected: digest.to_string(),
                actual: actual.to_string(),
            });
        }
        Ok(bytes)
    }

    /// Streams a blob into `path`, verifying its digest and size.
    pub(crate) async fn blob_to_file(
        &mut self,
        digest: &Digest,
        expected_size: u64,
        path: &Path,
    ) -> Result<(), ImageError> {
        let url = self.blob_url(digest);
        let what = format!("blob {digest}");
        let mut response = self.get(&url, None, &what).await?;
        let mut file = tokio::fs::File::create(path)
            .await
            .map_err(|e| ImageError::io_at("cannot create", path, e))?;
        let mut hasher = Sha256::new();
        let mut received: u64 = 0;
        while let Some(chunk) = response.chunk().await.map_err(|e| {
            self.unreachable(format!("download of {what} broke off: {}", causes(&e)))
        })? {
            received += chunk.len() as u64;
            if received > expected_size {
                return Err(ImageError::DigestMismatch {
                    what: format!(
                        "blob served by {} for {}",
                        self.target.registry, self.reference
                    ),
                    expected: format!("{digest} ({expected_size} bytes)"),
                    actual: format!("more than {expected_size} bytes"),
                });
            }
            hasher.update(&chunk);
            file.write_all(&chunk)
                .await
                .map_err(|e| ImageError::io_at("cannot write", path, e))?;
        }
        file.flush()
            .await
            .map_err(|e| ImageError::io_at("cannot write", path, e))?;
        let actual = format!("sha256:{}", hex::encode(hasher.finalize()));
        if actual != digest.to_string() {
            return Err(ImageError::DigestMismatch {
                what: format!(
                    "blob served by {} for {}",
                    self.target.registry, self.reference
                ),
                expected: digest.to_string(),
                actual,
            });
        }
        Ok(())
    }

    fn blob_url(&self, digest: &Digest) -> String {
        format!("{}/v2/{}/blobs/{digest}", self.base, self.target.repository)
    }

    /// GET with at most one authentication round trip; non-success statuses become errors.
    async fn get(
        &mut self,
        url: &str,
        accept: Option<&str>,
        what: &str,
    ) -> Result<Response, ImageError> {
        let mut authenticated = false;
        loop {
            let mut request = self.http.get(url);
            if let Some(accept) = accept {
                request = request.header(ACCEPT, accept);
            }
            match &self.authorization {
                Some(Authorization::Bearer(token)) => {
                    request = request.header(AUTHORIZATION, token.clone());
                }
                Some(Authorization::Basic { user, password }) => {
                    request = request.basic_auth(user, Some(password));
                }
                None => {}
            }
            let response = request.send().await.map_err(|e| {
                self.unreachable(format!("request for {what} failed: {}", causes(&e)))
            })?;
            if response.status() == StatusCode::UNAUTHORIZED && !authenticated {
                authenticated = true;
                let challenge = response
                    .headers()
                    .get(WWW_AUTHENTICATE)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                self.authenticate(challenge.as_deref()).await?;
                continue;
            }
            return self.check(response, what).await;
        }
    }

    /// Answers a `WWW-Authenticate` challenge: fetches a bearer token, or uses basic auth.
    async fn authenticate(&mut self, challenge: Option<&str>) -> Result<(), ImageError> {
        let Some((scheme, params)) = challenge.and_then(parse_challenge) else {
            return Err(
                self.unauthorized("the registry demands authentication without a usable challenge")
            );
        };
        if scheme.eq_ignore_ascii_case("basic") {
            let Some((user, password)) = self.login.clone() else {
                return Err(
                    self.unauthorized("the registry requires a login and none is configured")
                );
            };
            self.authorization = Some(Authorization::Basic { user, password });
            return Ok(());
        }
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(self.unauthorized(&format!(
                "the registry asks for unsupported authentication scheme {scheme:?}"
            )));
        }
        let Some(realm) = params.get("realm") else {
            return Err(self.unauthorized("the bearer challenge names no realm"));
        };
        let scope = params
            .get("scope")
            .cloned()
            .unwrap_or_else(|| format!("repository:{}:pull", self.target.repository));
        let mut query = vec![("scope", scope)];
        if let Some(service) = params.get("service") {
            query.push(("service", service.clone()));
        }
        let mut request = self.http.get(realm).query(&query);
        if let Some((user, password)) = &self.login {
            request = request.basic_auth(user, Some(password));
        }
        let response = request.send().await.map_err(|e| {
            self.unreachable(format!("token request to {realm} failed: {}", causes(&e)))
        })?;
        let status = response.status();
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            return Err(self.unauthorized(&format!("the token service {realm} refused: {status}")));
        }
        if !status.is_success() {
            return Err(self.unreachable(format!("the token service {realm} answered {status}")));
        }
        #[derive(serde::Deserialize)]
        struct TokenResponse {
            #[serde(default)]
            token: Option<String>,
            #[serde(default)]
            access_token: Option<String>,
        }
        let body: TokenResponse = response.json().await.map_err(|e| {
            self.unreachable(format!(
                "the token service {realm} sent an unreadable answer: {}",
                causes(&e)
            ))
        })?;
        let token = body
            .token
            .or(body.access_token)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| self.unreachable(format!("the token service {realm} sent no token")))?;
        let mut header = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
            self.unreachable(format!("the token service {realm} sent a malformed token"))
        })?;
        header.set_sensitive(true);
        self.authorization = Some(Authorization::Bearer(header));
        Ok(())
    }

    /// Maps an HTTP status to the error a caller can act on.
    async fn check(&self, response: Response, what: &str) -> Result<Response, ImageError> {
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let detail = registry_message(response).await;
        let repository = format!("{}/{}", self.target.registry, self.target.repository);
        Err(match status {
            StatusCode::NOT_FOUND => ImageError::NotFound {
                reference: self.reference.clone(),
                detail: format!("{what} does not exist in {repository}{detail}"),
            },
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                self.unauthorized(&format!("{what}: {status}{detail}"))
            }
            StatusCode::BAD_REQUEST => ImageError::InvalidReference {
                reference: self.reference.clone(),
                reason: format!("{repository} rejected the request for {what}{detail}"),
            },
            _ => self.unreachable(format!("{what}: {status}{detail}")),
        })
    }

    async fn read_limited(
        &self,
        mut response: Response,
        max: u64,
        what: &str,
    ) -> Result<Vec<u8>, ImageError> {
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| {
            self.unreachable(format!("download of {what} broke off: {}", causes(&e)))
        })? {
            bytes.extend_from_slice(&chunk);
            if bytes.len() as u64 > max {
                return Err(ImageError::Unsupported {
                    reference: self.reference.clone(),
                    reason: format!("{what} is larger than the {max}-byte limit"),
                });
            }
        }
        Ok(bytes)
    }

    fn unreachable(&self, detail: String) -> ImageError {
        ImageError::Unreachable {
            reference: self.reference.clone(),
            registry: self.target.registry.clone(),
            detail,
        }
    }

    fn unauthorized(&self, detail: &str) -> ImageError {
        ImageError::Unauthorized {
            reference: self.reference.clone(),
            registry: self.target.registry.clone(),
            detail: detail.to_owned(),
        }
    }
}

/// An error with its sources, outermost first ("error sending request: connection refused").
pub(crate) fn causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let next = cause.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = cause.source();
    }
    text
}

/// The first error message of a registry's JSON error body, as ": message".
async fn registry_message(response: Response) -> String {
    #[derive(serde::Deserialize)]
    struct Errors {
        #[serde(default)]
        errors: Vec<ErrorEntry>,
    }
    #[derive(serde::Deserialize)]
    struct ErrorEntry {
        #[serde(default)]
        code: String,
        #[serde(default)]
        message: String,
    }
    let Ok(body) = response.bytes().await else {
        return String::new();
    };
    match serde_json::from_slice::<Errors>(&body) {
        Ok(Errors { errors }) => errors
            .first()
            .map(|e| format!(" ({} {})", e.code, e.message).replace(" )", ")"))
            .unwrap_or_default(),
        Err(_) => String::new(),
    }
}

/// Splits `Scheme key="value", key2=value2` into the scheme and its parameters.
pub(crate) fn parse_challenge(header: &str) -> Option<(String, HashMap<String, String>)> {
    let header = header.trim();
    let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
    let mut params = HashMap::new();
    let mut chars = rest.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        if key.is_empty() {
            break;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '"' => break,
                    other => value.push(other),
                }
            }
        } else {
            while let Some(c) = chars.peek() {
                if *c == ',' {
                    break;
                }
                value.push(*c);
                chars.next();
            }
        }
        params.insert(key.trim().to_ascii_lowercase(), value.trim().to_owned());
    }
    (!scheme.is_empty()).then(|| (scheme.to_owned(), params))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bearer_challenges() {
        let (scheme, params) = parse_challenge(
            r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push""#,
        )
        .unwrap();
        assert_eq!(scheme, "Bearer");
        assert_eq!(params["realm"], "https://auth.example/token");
        assert_eq!(params["service"], "registry.example");
        assert_eq!(params["scope"], "repository:a/b:pull,push");
        let (scheme, params) = parse_challenge(r#"Basic realm=registry"#).unwrap();
        assert_eq!(scheme, "Basic");
        assert_eq!(params["realm"], "registry");
    }
}
