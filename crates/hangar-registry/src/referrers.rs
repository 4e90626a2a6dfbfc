//! The referrers API of distribution spec v1.1:
//! `GET /v2/<name>/referrers/<digest>[?artifactType=…]` answers an OCI image
//! index of the repository's manifests whose `subject` is that digest
//! (signatures, SBOMs, attestations), filtered by artifact type on request.

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};

use crate::error::RegistryError;
use crate::manifests::OCI_INDEX;
use crate::names::{Digest, RepoName};
use crate::Registry;

impl Registry {
    /// The index of `subject`'s referrers in `repo` (empty when there are none).
    pub(crate) async fn referrers(
        &self,
        repo: &RepoName,
        subject: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Response, RegistryError> {
        let subject = subject.to_string();
        let mut manifests: Vec<serde_json::Value> = self
            .meta
            .manifests(repo)
            .await?
            .into_iter()
            .filter(|(_, record)| record.subject.as_deref() == Some(subject.as_str()))
            .filter(|(_, record)| {
                artifact_type.is_none_or(|wanted| record.artifact_type.as_deref() == Some(wanted))
            })
            .map(|(digest, record)| {
                let mut descriptor = serde_json::json!({
                    "mediaType": record.media_type,
                    "digest": digest.to_string(),
                    "size": record.size,
                });
                if let Some(kind) = &record.artifact_type {
                    descriptor["artifactType"] = kind.as_str().into();
                }
                if !record.annotations.is_empty() {
                    descriptor["annotations"] = serde_json::json!(record.annotations);
                }
                descriptor
            })
            .collect();
        manifests.sort_by(|a, b| a["digest"].as_str().cmp(&b["digest"].as_str()));
        let index = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": manifests,
        });
        let mut response = axum::Json(index).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(OCI_INDEX));
        if artifact_type.is_some() {
            headers.insert(
                "oci-filters-applied",
                HeaderValue::from_static("artifactType"),
            );
        }
        Ok(response)
    }
}
