//! Manifest endpoints: HEAD/GET/PUT/DELETE by tag or digest.
//!
//! Image manifests (OCI, Docker schema 2) and indexes (OCI index, Docker
//! manifest list) are accepted; the media type is kept as pushed and served
//! back. A manifest whose config, layers or child manifests the repository
//! does not hold is refused with MANIFEST_BLOB_UNKNOWN. A manifest's
//! `subject` is recorded for the referrers API ([`crate::referrers`]).

use axum::body::Body;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;

use crate::error::{ErrorCode, RegistryError};
use crate::http::status_with;
use crate::meta::ManifestRecord;
use crate::names::{Digest, Reference, RepoName};
use crate::Registry;

/// The largest manifest accepted.
pub const MAX_MANIFEST_BYTES: usize = 4 * 1024 * 1024;

/// OCI image manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image index.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// Docker image manifest, schema 2.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker manifest list.
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Descriptor {
    digest: String,
    media_type: Option<String>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct AnyManifest {
    schema_version: Option<u32>,
    media_type: Option<String>,
    config: Option<Descriptor>,
    #[serde(default)]
    layers: Vec<Descriptor>,
    manifests: Option<Vec<Descriptor>>,
    subject: Option<Descriptor>,
    artifact_type: Option<String>,
    #[serde(default)]
    annotations: std::collections::BTreeMap<String, String>,
}

fn invalid(message: String) -> RegistryError {
    RegistryError::new(ErrorCode::ManifestInvalid, message)
}

fn parse_digests(list: &[Descriptor]) -> Result<Vec<Digest>, RegistryError> {
    list.iter()
        .map(|d| Digest::parse(&d.digest))
        .map(|r| r.map_err(|e| invalid(format!("the manifest references a bad digest: {e}"))))
        .collect()
}

fn media_type_of(headers: &HeaderMap, parsed: &AnyManifest) -> String {
    let declared = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or(v).trim().to_owned())
        .filter(|v| !v.is_empty() && v != "application/json" && v != "application/octet-stream");
    declared
        .or_else(|| parsed.media_type.clone())
        .unwrap_or_else(|| match parsed.manifests {
            Some(_) => OCI_INDEX.into(),
            None => OCI_MANIFEST.into(),
        })
}

/// Whether an `Accept` header admits `media_type` (absent = anything).
fn accepts(headers: &HeaderMap, media_type: &str) -> bool {
    let values: Vec<&str> = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|v| v.split(';').next().unwrap_or(v).trim())
        .collect();
    values.is_empty()
        || values
            .iter()
            .any(|v| *v == media_type || *v == "*/*" || *v == "application/*")
}

impl Registry {
    async fn resolve_reference(
        &self,
        repo: &RepoName,
        reference: &str,
    ) -> Result<(Digest, ManifestRecord), RegistryError> {
        let unknown = || {
            RegistryError::new(
                ErrorCode::ManifestUnknown,
                format!("manifest {reference} is not in repository {repo}"),
            )
            .with_detail(serde_json::json!({ "reference": reference }))
        };
        let digest = match Reference::parse(reference)? {
            Reference::Digest(digest) => digest,
            Reference::Tag(tag) => self.meta.tag(repo, &tag).await?.ok_or_else(unknown)?,
        };
        let record = self
            .meta
            .manifest(repo, &digest)
            .await?
            .ok_or_else(unknown)?;
        Ok((digest, record))
    }

    /// GET/HEAD: the manifest as pushed, with its media type and digest.
    pub(crate) async fn get_manifest(
        &self,
        repo: &RepoName,
        reference: &str,
        headers: &HeaderMap,
        head: bool,
    ) -> Result<Response, RegistryError> {
        let (digest, record) = self.resolve_reference(repo, reference).await?;
        if !accepts(headers, &record.media_type) {
            return Err(RegistryError::new(
                ErrorCode::ManifestUnknown,
                format!(
                    "manifest {reference} in {repo} is {} and the request's Accept header does \
                     not include it",
                    record.media_type
                ),
            ));
        }
        let body = if head {
            Body::empty()
        } else {
            let bytes = tokio::fs::read(self.disk.blob_path(&digest))
                .await
                .map_err(|e| RegistryError::io("cannot read a stored manifest", e))?;
            Body::from(bytes)
        };
        let mut response = body.into_response();
        let out = response.headers_mut();
        out.insert(header::CONTENT_LENGTH, record.size.into());
        if let Ok(value) = record.media_type.parse() {
            out.insert(header::CONTENT_TYPE, value);
        }
        if let Ok(value) = digest.to_string().parse() {
            out.insert("docker-content-digest", value);
        }
        Ok(response)
    }

    /// PUT: verifies the digest (when the reference is one) and that the
    /// repository holds everything the manifest references, checks the quota,
    /// then stores the bytes, the record and the tag.
    pub(crate) async fn put_manifest(
        &self,
        repo: &RepoName,
        reference: &str,
        headers: &HeaderMap,
        body: Body,
    ) -> Result<Response, RegistryError> {
        let reference = Reference::parse(reference)?;
        let limited = http_body_util::Limited::new(body, MAX_MANIFEST_BYTES);
        let bytes = limited
            .collect()
            .await
            .map_err(|e| {
                invalid(format!(
                    "cannot read the manifest (at most {MAX_MANIFEST_BYTES} bytes): {e}"
                ))
            })?
            .to_bytes();
        let digest = Digest::of(&bytes);
        if let Reference::Digest(expected) = &reference {
            if *expected != digest {
                return Err(RegistryError::new(
                    ErrorCode::DigestInvalid,
                    format!(
                        "the manifest's content has digest {digest}, not {expected} as the URL \
                         says; nothing was stored"
                    ),
                ));
            }
        }
        let parsed: AnyManifest = serde_json::from_slice(&bytes)
            .map_err(|e| invalid(format!("the manifest is not valid JSON: {e}")))?;
        if parsed.schema_version != Some(2) {
            return Err(invalid(
                "only schemaVersion 2 manifests (OCI, Docker schema 2) are supported".into(),
            ));
        }
        let media_type = media_type_of(headers, &parsed);
        let (blobs, children) = match (&parsed.manifests, &parsed.config) {
            (Some(children), _) => (Vec::new(), parse_digests(children)?),
            (None, Some(config)) => {
                let mut blobs = parse_digests(std::slice::from_ref(config))?;
                blobs.extend(parse_digests(&parsed.layers)?);
                (blobs, Vec::new())
            }
            (None, None) => {
                return Err(invalid(
                    "the manifest has neither a config (image) nor manifests (index)".into(),
                ))
            }
        };
        let subject = parsed
            .subject
            .as_ref()
            .map(|s| Digest::parse(&s.digest))
            .transpose()
            .map_err(|e| invalid(format!("the manifest's subject has a bad digest: {e}")))?;
        let _shared = self.gc_lock.read().await;
        let mut sizes = Vec::new();
        for blob in &blobs {
            let linked = self.meta.link(repo, blob).await?;
            match (linked, self.disk.blob_size(blob).await) {
                (Some(link), Some(_)) => sizes.push((blob.clone(), link.size)),
                _ => return Err(blob_unknown(repo, blob, "blob")),
            }
            self.disk.touch(blob);
        }
        for child in &children {
            if self.meta.manifest(repo, child).await?.is_none() {
                return Err(blob_unknown(repo, child, "manifest"));
            }
            self.disk.touch(child);
        }
        sizes.push((digest.clone(), bytes.len() as u64));
        self.check_quota(repo, &sizes).await?;
        self.disk.put_bytes(&digest, &bytes).await?;
        let record = ManifestRecord {
            media_type,
            size: bytes.len() as u64,
            blobs: blobs.iter().map(Digest::to_string).collect(),
            children: children.iter().map(Digest::to_string).collect(),
            subject: subject.as_ref().map(Digest::to_string),
            artifact_type: parsed
                .artifact_type
                .clone()
                .or_else(|| parsed.config.as_ref().and_then(|c| c.media_type.clone())),
            annotations: parsed.annotations.clone(),
        };
        let tag = match &reference {
            Reference::Tag(tag) => Some(tag.as_str()),
            Reference::Digest(_) => None,
        };
        self.meta.put_manifest(repo, &digest, &record, tag).await?;
        let mut answer = vec![
            ("location", format!("/v2/{repo}/manifests/{digest}")),
            ("docker-content-digest", digest.to_string()),
        ];
        // Tells the client this registry indexes referrers itself, so it
        // need not maintain a fallback referrers tag.
        if let Some(subject) = &subject {
            answer.push(("oci-subject", subject.to_string()));
        }
        Ok(status_with(StatusCode::CREATED, &answer))
    }

    /// DELETE: by digest removes the manifest and its tags; by tag, the tag.
    pub(crate) async fn delete_manifest(
        &self,
        repo: &RepoName,
        reference: &str,
    ) -> Result<Response, RegistryError> {
        let found = match Reference::parse(reference)? {
            Reference::Digest(digest) => self.meta.delete_manifest(repo, &digest).await?,
            Reference::Tag(tag) => self.meta.delete_tag(repo, &tag).await?,
        };
        if !found {
            return Err(RegistryError::new(
                ErrorCode::ManifestUnknown,
                format!("manifest {reference} is not in repository {repo}"),
            ));
        }
        Ok(StatusCode::ACCEPTED.into_response())
    }
}

fn blob_unknown(repo: &RepoName, digest: &Digest, what: &str) -> RegistryError {
    RegistryError::new(
        ErrorCode::ManifestBlobUnknown,
        format!(
            "the manifest references {what} {digest}, which repository {repo} does not hold: \
             push it (or mount it) before the manifest"
        ),
    )
    .with_detail(serde_json::json!({ "digest": digest.to_string() }))
}
