//! Blob endpoints: GET/HEAD/DELETE of blobs, and uploads (monolithic POST,
//! chunked PATCH with `Content-Range`, PUT to finish, status GET, DELETE to
//! cancel) and cross-repository mounts.

use axum::body::Body;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use tokio::io::{AsyncReadExt, AsyncSeekExt};

use crate::byte_range::RangeAnswer;
use crate::error::{ErrorCode, RegistryError};
use crate::http::{query_value, status_with};
use crate::names::{Digest, RepoName};
use crate::Registry;

/// Releases an upload session's "being written" mark when dropped.
struct BusyGuard<'a> {
    registry: &'a Registry,
    id: String,
}

impl Drop for BusyGuard<'_> {
    fn drop(&mut self) {
        if let Ok(mut busy) = self.registry.busy_uploads.lock() {
            busy.remove(&self.id);
        }
    }
}

fn upload_location(repo: &RepoName, id: &str) -> String {
    format!("/v2/{repo}/blobs/uploads/{id}")
}

fn range(offset: u64) -> String {
    format!("0-{}", offset.saturating_sub(1))
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

fn blob_created(repo: &RepoName, digest: &Digest) -> Response {
    status_with(
        StatusCode::CREATED,
        &[
            ("location", format!("/v2/{repo}/blobs/{digest}")),
            ("docker-content-digest", digest.to_string()),
        ],
    )
}

impl Registry {
    /// GET or HEAD of a blob the repository holds, whole or one byte range.
    pub(crate) async fn get_blob(
        &self,
        repo: &RepoName,
        digest: &Digest,
        request: &HeaderMap,
        head: bool,
    ) -> Result<Response, RegistryError> {
        let in_repo = self.meta.link(repo, digest).await?.is_some()
            || self.meta.manifest(repo, digest).await?.is_some();
        let size = match in_repo {
            true => self.disk.blob_size(digest).await,
            false => None,
        };
        let Some(size) = size else {
            return Err(RegistryError::new(
                ErrorCode::BlobUnknown,
                format!("blob {digest} is not in repository {repo}"),
            )
            .with_detail(serde_json::json!({ "digest": digest.to_string() })));
        };
        let (status, start, length) = match crate::byte_range::requested(request, size) {
            RangeAnswer::Whole => (StatusCode::OK, 0, size),
            RangeAnswer::Part { start, end } => {
                (StatusCode::PARTIAL_CONTENT, start, end - start + 1)
            }
            RangeAnswer::Unsatisfiable => {
                let mut response = RegistryError::new(
                    ErrorCode::RangeInvalid,
                    format!("the requested range is outside blob {digest} ({size} bytes)"),
                )
                .into_response();
                if let Ok(value) = format!("bytes */{size}").parse() {
                    response.headers_mut().insert(header::CONTENT_RANGE, value);
                }
                return Ok(response);
            }
        };
        let body = if head {
            Body::empty()
        } else {
            let mut file = tokio::fs::File::open(self.disk.blob_path(digest))
                .await
                .map_err(|e| RegistryError::io("cannot open a blob", e))?;
            file.seek(std::io::SeekFrom::Start(start))
                .await
                .map_err(|e| RegistryError::io("cannot read a blob", e))?;
            Body::from_stream(tokio_util::io::ReaderStream::new(file.take(length)))
        };
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_LENGTH, length.into());
        headers.insert(
            header::ACCEPT_RANGES,
            header::HeaderValue::from_static("bytes"),
        );
        if status == StatusCode::PARTIAL_CONTENT {
            let range = format!("bytes {start}-{}/{size}", start + length - 1);
            if let Ok(value) = range.parse() {
                headers.insert(header::CONTENT_RANGE, value);
            }
        }
        headers.insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("application/octet-stream"),
        );
        if let Ok(value) = digest.to_string().parse() {
            headers.insert("docker-content-digest", value);
        }
        Ok(response)
    }

    /// Removes the blob from the repository (the bytes go at the next collection).
    pub(crate) async fn delete_blob_link(
        &self,
        repo: &RepoName,
        digest: &Digest,
    ) -> Result<Response, RegistryError> {
        if self.meta.link(repo, digest).await?.is_none() {
            return Err(RegistryError::new(
                ErrorCode::BlobUnknown,
                format!("blob {digest} is not in repository {repo}"),
            ));
        }
        self.meta.delete_link(repo, digest).await?;
        Ok(StatusCode::ACCEPTED.into_response())
    }

    /// POST `/blobs/uploads/`: a mount, a monolithic upload, or a new session.
    pub(crate) async fn start_upload(
        &self,
        repo: &RepoName,
        query: &[(String, String)],
        may_mount: bool,
        headers: &HeaderMap,
        body: Body,
    ) -> Result<Response, RegistryError> {
        if let (Some(mount), Some(from), true) = (
            query_value(query, "mount"),
            query_value(query, "from"),
            may_mount,
        ) {
            let digest = Digest::parse(mount)?;
            if let Ok(from) = RepoName::parse(from) {
                if let Some(link) = self.meta.link(&from, &digest).await? {
                    if self.disk.blob_size(&digest).await.is_some() {
                        self.link_blob(repo, &digest, link.size).await?;
                        return Ok(blob_created(repo, &digest));
                    }
                }
            }
        }
        if let Some(digest) = query_value(query, "digest") {
            let digest = Digest::parse(digest)?;
            if let Some(declared) = content_length(headers) {
                self.check_quota(repo, &[(digest.clone(), declared)])
                    .await?;
            }
            let size = self.disk.put_stream(&digest, body).await?;
            self.link_blob(repo, &digest, size).await?;
            return Ok(blob_created(repo, &digest));
        }
        let id = ulid::Ulid::new().to_string().to_lowercase();
        tokio::fs::write(self.disk.upload_path(&id), b"")
            .await
            .map_err(|e| RegistryError::io("cannot start an upload", e))?;
        self.meta.create_upload(&id, repo).await?;
        Ok(status_with(
            StatusCode::ACCEPTED,
            &[
                ("location", upload_location(repo, &id)),
                ("range", "0-0".into()),
                ("docker-upload-uuid", id),
            ],
        ))
    }

    /// PATCH: appends a chunk; `Content-Range` must start at the current offset.
    pub(crate) async fn patch_upload(
        &self,
        repo: &RepoName,
        id: &str,
        headers: &HeaderMap,
        body: Body,
    ) -> Result<Response, RegistryError> {
        let _busy = self.claim_upload(id)?;
        let (mut record, revision) = self.session(repo, id).await?;
        if let Some(range) = headers.get(header::CONTENT_RANGE) {
            let text = range.to_str().unwrap_or("");
            let start = text
                .trim_start_matches("bytes ")
                .split('-')
                .next()
                .and_then(|s| s.trim().parse::<u64>().ok());
            if start != Some(record.offset) {
                return Err(RegistryError::new(
                    ErrorCode::RangeInvalid,
                    format!(
                        "Content-Range {text:?} does not continue the upload, which has {} \
                         bytes: send the chunk starting at byte {}",
                        record.offset, record.offset
                    ),
                ));
            }
        }
        let written = self.disk.append_upload(id, body).await?;
        record.offset += written;
        if !self.meta.advance_upload(id, &record, revision).await? {
            return Err(RegistryError::new(
                ErrorCode::BlobUploadInvalid,
                format!("upload {id} changed concurrently; restart the upload"),
            ));
        }
        Ok(status_with(
            StatusCode::ACCEPTED,
            &[
                ("location", upload_location(repo, id)),
                ("range", range(record.offset)),
                ("docker-upload-uuid", id.to_owned()),
            ],
        ))
    }

    /// PUT `?digest=`: appends the last chunk (if any), verifies, stores, links.
    pub(crate) async fn finish_upload(
        &self,
        repo: &RepoName,
        id: &str,
        query: &[(String, String)],
        body: Body,
    ) -> Result<Response, RegistryError> {
        let _busy = self.claim_upload(id)?;
        let (record, _) = self.session(repo, id).await?;
        let Some(digest) = query_value(query, "digest") else {
            return Err(RegistryError::new(
                ErrorCode::DigestInvalid,
                "finishing an upload needs ?digest=sha256:<hex> of the whole blob",
            ));
        };
        let digest = match Digest::parse(digest) {
            Ok(digest) => digest,
            Err(err) => {
                self.drop_session(id).await?;
                return Err(err);
            }
        };
        let written = self.disk.append_upload(id, body).await?;
        let size = record.offset + written;
        if let Err(err) = self.check_quota(repo, &[(digest.clone(), size)]).await {
            self.drop_session(id).await?;
            return Err(err);
        }
        let result = self.disk.finish_upload(id, &digest).await;
        self.drop_session(id).await?;
        let size = result?;
        self.link_blob(repo, &digest, size).await?;
        Ok(blob_created(repo, &digest))
    }

    /// GET: where a resumable upload stands.
    pub(crate) async fn upload_status(
        &self,
        repo: &RepoName,
        id: &str,
    ) -> Result<Response, RegistryError> {
        let (record, _) = self.session(repo, id).await?;
        Ok(status_with(
            StatusCode::NO_CONTENT,
            &[
                ("location", upload_location(repo, id)),
                ("range", range(record.offset)),
                ("docker-upload-uuid", id.to_owned()),
            ],
        ))
    }

    /// DELETE: abandons an upload.
    pub(crate) async fn cancel_upload(
        &self,
        repo: &RepoName,
        id: &str,
    ) -> Result<Response, RegistryError> {
        self.session(repo, id).await?;
        self.drop_session(id).await?;
        Ok(StatusCode::NO_CONTENT.into_response())
    }

    /// Links a stored blob into a repository, after the quota check.
    async fn link_blob(
        &self,
        repo: &RepoName,
        digest: &Digest,
        size: u64,
    ) -> Result<(), RegistryError> {
        let _shared = self.gc_lock.read().await;
        if self.meta.link(repo, digest).await?.is_none() {
            self.check_quota(repo, &[(digest.clone(), size)]).await?;
        }
        self.disk.touch(digest);
        self.meta.put_link(repo, digest, size).await
    }

    async fn session(
        &self,
        repo: &RepoName,
        id: &str,
    ) -> Result<(crate::meta::UploadRecord, i64), RegistryError> {
        let unknown = || {
            RegistryError::new(
                ErrorCode::BlobUploadUnknown,
                format!("upload {id} does not exist in {repo} (finished, cancelled or expired): start a new one"),
            )
        };
        let valid_id = !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric());
        if !valid_id {
            return Err(unknown());
        }
        match self.meta.upload(id).await? {
            Some((record, revision)) if record.repo == repo.as_str() => Ok((record, revision)),
            _ => Err(unknown()),
        }
    }

    async fn drop_session(&self, id: &str) -> Result<(), RegistryError> {
        self.meta.delete_upload(id).await?;
        self.disk.remove_upload(id).await;
        Ok(())
    }

    fn claim_upload(&self, id: &str) -> Result<BusyGuard<'_>, RegistryError> {
        let mut busy = self
            .busy_uploads
            .lock()
            .map_err(|_| RegistryError::Io("upload table poisoned".into()))?;
        if !busy.insert(id.to_owned()) {
            return Err(RegistryError::new(
                ErrorCode::BlobUploadInvalid,
                format!("another request is writing upload {id}; send chunks one at a time"),
            ));
        }
        Ok(BusyGuard {
            registry: self,
            id: id.to_owned(),
        })
    }
}
