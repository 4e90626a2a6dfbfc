//! The write side of the OCI distribution API: pushes an image from an OCI
//! layout directory to a registry.
//!
//! Blobs the registry already holds are skipped (HEAD first); the others are
//! uploaded with one POST + PUT each. Indexes are pushed after their child
//! manifests, each child by digest, the root by the reference's tag.
//! Authentication: Basic, or the bearer token flow (the challenge's realm is
//! asked for `repository:<name>:pull,push` with the login as Basic auth).

use std::path::{Path, PathBuf};

use reqwest::header::{HeaderValue, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, LOCATION};
use reqwest::{Client, RequestBuilder, Response, StatusCode};

use crate::digest::Digest;
use crate::error::ImageError;
use crate::reference::{ParsedReference, RegistryReference};
use crate::source::registry::{causes, http_client, parse_challenge};
use crate::spec::{self, Descriptor, Index, Manifest, REF_NAME_ANNOTATION};

/// A user name and password (for Hangar's registry: any user, the platform token).
#[derive(Clone, Debug)]
pub struct RegistryLogin {
    /// User name (Hangar's registry ignores it).
    pub user: String,
    /// Password or token.
    pub password: String,
}

/// Pushes the image of the OCI layout at `layout_dir` to `reference`
/// (`127.0.0.1:4280/app/web:v3`) and returns the pushed manifest's digest.
///
/// The layout's index.json must list one image, or several of which one is
/// named (`org.opencontainers.image.ref.name`) like the reference's tag.
pub async fn push_oci_layout(
    layout_dir: &Path,
    reference: &str,
    login: Option<&RegistryLogin>,
) -> Result<String, ImageError> {
    let ParsedReference::Registry(target) = ParsedReference::parse(reference)? else {
        return Err(ImageError::InvalidReference {
            reference: reference.to_owned(),
            reason: "push needs a registry reference such as 127.0.0.1:4280/app/web:v1".into(),
        });
    };
    if target.digest.is_some() {
        return Err(ImageError::InvalidReference {
            reference: reference.to_owned(),
            reason: "push to a tag, not a digest (the digest is what the push returns)".into(),
        });
    }
    let tag = target.tag.clone().unwrap_or_else(|| "latest".into());
    let http = http_client().map_err(|detail| ImageError::Unreachable {
        reference: reference.to_owned(),
        registry: target.registry.clone(),
        detail,
    })?;
    let mut pusher = Pusher {
        http,
        base: target.api_base(),
        reference: reference.to_owned(),
        target,
        login: login.cloned(),
        authorization: None,
        layout: layout_dir.to_path_buf(),
    };
    let root = pusher.root_descriptor(&tag)?;
    pusher.authorize().await?;
    pusher.push_node(&root, Some(&tag)).await?;
    Ok(root.digest)
}

struct Pusher {
    http: Client,
    base: String,
    reference: String,
    target: RegistryReference,
    login: Option<RegistryLogin>,
    authorization: Option<HeaderValue>,
    layout: PathBuf,
}

impl Pusher {
    fn blob_path(&self, digest: &str) -> Result<PathBuf, ImageError> {
        let parsed = Digest::parse(digest).map_err(|reason| self.layout_error(reason))?;
        Ok(self.layout.join("blobs/sha256").join(parsed.hex()))
    }

    fn read_blob(&self, digest: &str) -> Result<Vec<u8>, ImageError> {
        let path = self.blob_path(digest)?;
        let bytes = std::fs::read(&path).map_err(|e| ImageError::io_at("cannot read", &path, e))?;
        if Digest::of(&bytes).to_string() != digest {
            return Err(self.layout_error(format!("blob {digest} does not match its digest")));
        }
        Ok(bytes)
    }

    fn layout_error(&self, reason: String) -> ImageError {
        ImageError::InvalidReference {
            reference: self.layout.display().to_string(),
            reason: format!("the OCI layout cannot be pushed: {reason}"),
        }
    }

    /// The image index.json names for `tag`.
    fn root_descriptor(&self, tag: &str) -> Result<Descriptor, ImageError> {
        let path = self.layout.join("index.json");
        let text = std::fs::read(&path).map_err(|e| ImageError::io_at("cannot read", &path, e))?;
        let index: Index = serde_json::from_slice(&text)
            .map_err(|e| self.layout_error(format!("index.json is not valid: {e}")))?;
        if index.manifests.len() == 1 {
            return Ok(index.manifests[0].clone());
        }
        let named = |d: &&Descriptor| {
            d.annotations
                .as_ref()
                .and_then(|a| a.get(REF_NAME_ANNOTATION))
                .is_some_and(|n| n == tag)
        };
        index.manifests.iter().find(named).cloned().ok_or_else(|| {
            self.layout_error(format!(
                "index.json lists {} images and none is named {tag:?}",
                index.manifests.len()
            ))
        })
    }

    /// Pushes a manifest or index with everything it references.
    async fn push_node(&mut self, node: &Descriptor, tag: Option<&str>) -> Result<(), ImageError> {
        let bytes = self.read_blob(&node.digest)?;
        let is_index = matches!(
            node.media_type.as_str(),
            spec::OCI_INDEX | spec::DOCKER_MANIFEST_LIST
        ) || serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .is_some_and(|v| v.get("manifests").is_some());
        if is_index {
            let index: Index = serde_json::from_slice(&bytes).map_err(|e| {
                self.layout_error(format!("index {} is not valid: {e}", node.digest))
            })?;
            for child in &index.manifests {
                Box::pin(self.push_node(child, None)).await?;
            }
        } else {
            let manifest: Manifest = serde_json::from_slice(&bytes).map_err(|e| {
                self.layout_error(format!("manifest {} is not valid: {e}", node.digest))
            })?;
            for blob in std::iter::once(&manifest.config).chain(&manifest.layers) {
                self.push_blob(blob).await?;
            }
        }
        let media_type = match node.media_type.as_str() {
            "" => serde_json::from_slice::<serde_json::Value>(&bytes)
                .ok()
                .and_then(|v| v.get("mediaType")?.as_str().map(str::to_owned))
                .unwrap_or_else(|| spec::OCI_MANIFEST.to_owned()),
            declared => declared.to_owned(),
        };
        let selector = tag.map_or_else(|| node.digest.clone(), str::to_owned);
        let url = format!(
            "{}/v2/{}/manifests/{selector}",
            self.base, self.target.repository
        );
        let what = format!("manifest {}", node.digest);
        let response = self
            .send(&what, |http| {
                Ok(http
                    .put(&url)
                    .header(CONTENT_TYPE, &media_type)
                    .body(bytes.clone()))
            })
            .await?;
        self.expect(response, &[StatusCode::CREATED, StatusCode::OK], &what)
            .await
    }

    /// Uploads one blob unless the registry has it.
    async fn push_blob(&mut self, blob: &Descriptor) -> Result<(), ImageError> {
        let path = self.blob_path(&blob.digest)?;
        let what = format!("blob {}", blob.digest);
        let head_url = format!(
            "{}/v2/{}/blobs/{}",
            self.base, self.target.repository, blob.digest
        );
        let head = self.send(&what, |http| Ok(http.head(&head_url))).await?;
        if head.status().is_success() {
            return Ok(());
        }
        let start_url = format!("{}/v2/{}/blobs/uploads/", self.base, self.target.repository);
        let started = self
            .send(&what, |http| {
                Ok(http.post(&start_url).header(CONTENT_LENGTH, 0))
            })
            .await?;
        let location = started
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        self.expect(started, &[StatusCode::ACCEPTED], &what).await?;
        let Some(location) = location else {
            return Err(self.failed(format!(
                "the registry started an upload of {what} without a Location"
            )));
        };
        let mut url = if location.starts_with("http://") || location.starts_with("https://") {
            location
        } else {
            format!("{}{location}", self.base)
        };
        url.push(if url.contains('?') { '&' } else { '?' });
        url.push_str(&format!("digest={}", blob.digest));
        let size = std::fs::metadata(&path)
            .map_err(|e| ImageError::io_at("cannot read", &path, e))?
            .len();
        let response = self
            .send(&what, |http| {
                let file = std::fs::File::open(&path)
                    .map_err(|e| ImageError::io_at("cannot read", &path, e))?;
                let stream = tokio_util::io::ReaderStream::new(tokio::fs::File::from_std(file));
                Ok(http
                    .put(&url)
                    .header(CONTENT_TYPE, "application/octet-stream")
                    .header(CONTENT_LENGTH, size)
                    .body(reqwest::Body::wrap_stream(stream)))
            })
            .await?;
        self.expect(response, &[StatusCode::CREATED], &what).await
    }

    /// Sends a request with the current authorization; after a 401, answers
    /// the challenge and sends it once more.
    async fn send(
        &mut self,
        what: &str,
        build: impl Fn(&Client) -> Result<RequestBuilder, ImageError>,
    ) -> Result<Response, ImageError> {
        let mut retried = false;
        loop {
            let mut request = build(&self.http)?;
            if let Some(authorization) = &self.authorization {
                request = request.header(AUTHORIZATION, authorization.clone());
            }
            let response = request
                .send()
                .await
                .map_err(|e| self.failed(format!("request for {what} failed: {}", causes(&e))))?;
            if response.status() != StatusCode::UNAUTHORIZED || retried {
                return Ok(response);
            }
            retried = true;
            self.answer_challenge(&response).await?;
        }
    }

    /// Asks `GET /v2/` and answers its challenge, if any.
    async fn authorize(&mut self) -> Result<(), ImageError> {
        let url = format!("{}/v2/", self.base);
        let response = self
            .http
            .get(&url)
            .send()
            .await
            .map_err(|e| self.failed(format!("cannot reach the registry: {}", causes(&e))))?;
        if response.status() == StatusCode::UNAUTHORIZED {
            self.answer_challenge(&response).await?;
        }
        Ok(())
    }

    async fn answer_challenge(&mut self, response: &Response) -> Result<(), ImageError> {
        let challenge = response
            .headers()
            .get(reqwest::header::WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_challenge);
        let Some((scheme, params)) = challenge else {
            return Err(
                self.unauthorized("the registry demands authentication without a usable challenge")
            );
        };
        let Some(login) = self.login.clone() else {
            return Err(self.unauthorized("the registry requires a login and none was given"));
        };
        if scheme.eq_ignore_ascii_case("basic") {
            let basic = self
                .http
                .get("http://x")
                .basic_auth(&login.user, Some(&login.password));
            let header = basic
                .build()
                .ok()
                .and_then(|r| r.headers().get(AUTHORIZATION).cloned());
            self.authorization = header;
            return Ok(());
        }
        let Some(realm) = params
            .get("realm")
            .filter(|_| scheme.eq_ignore_ascii_case("bearer"))
        else {
            return Err(self.unauthorized(&format!("unsupported challenge {scheme:?}")));
        };
        let mut query = vec![(
            "scope",
            format!("repository:{}:pull,push", self.target.repository),
        )];
        if let Some(service) = params.get("service") {
            query.push(("service", service.clone()));
        }
        let answer = self
            .http
            .get(realm)
            .query(&query)
            .basic_auth(&login.user, Some(&login.password))
            .send()
            .await
            .map_err(|e| self.failed(format!("token request to {realm} failed: {}", causes(&e))))?;
        if !answer.status().is_success() {
            return Err(self.unauthorized(&format!(
                "the token service {realm} answered {}",
                answer.status()
            )));
        }
        #[derive(serde::Deserialize)]
        struct TokenAnswer {
            token: Option<String>,
            access_token: Option<String>,
        }
        let body: TokenAnswer = answer
            .json()
            .await
            .map_err(|e| self.failed(format!("unreadable token answer from {realm}: {e}")))?;
        let token = body.token.or(body.access_token).unwrap_or_default();
        let mut header = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
            self.failed(format!("the token service {realm} sent a malformed token"))
        })?;
        header.set_sensitive(true);
        self.authorization = Some(header);
        Ok(())
    }

    async fn expect(
        &self,
        response: Response,
        wanted: &[StatusCode],
        what: &str,
    ) -> Result<(), ImageError> {
        let status = response.status();
        if wanted.contains(&status) {
            return Ok(());
        }
        let body = response.text().await.unwrap_or_default();
        let detail = format!("pushing {what} got {status}: {}", body.trim());
        Err(match status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => self.unauthorized(&detail),
            _ => self.failed(detail),
        })
    }

    fn failed(&self, detail: String) -> ImageError {
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
