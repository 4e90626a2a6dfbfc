//! Content on disk: verified blobs under `blobs/sha256/<hex>`, upload
//! sessions' partial data under `uploads/<id>`, scratch files under `tmp/`.
//!
//! A file under `blobs/` is always complete and matches its name: content is
//! written to `tmp/`, hashed, and renamed into place only if the digest
//! matches.

use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use axum::body::Body;
use futures_util::StreamExt;
use sha2::{Digest as _, Sha256};
use tokio::io::AsyncWriteExt;

use crate::error::{ErrorCode, RegistryError};
use crate::names::Digest;

/// The registry's directory.
#[derive(Clone, Debug)]
pub struct Disk {
    blobs: PathBuf,
    uploads: PathBuf,
    tmp: PathBuf,
}

impl Disk {
    /// Opens (creating) the layout under `root`; stale scratch files are removed.
    pub fn open(root: &Path) -> io::Result<Disk> {
        let disk = Disk {
            blobs: root.join("blobs/sha256"),
            uploads: root.join("uploads"),
            tmp: root.join("tmp"),
        };
        for dir in [&disk.blobs, &disk.uploads, &disk.tmp] {
            std::fs::create_dir_all(dir)?;
        }
        for entry in std::fs::read_dir(&disk.tmp)?.flatten() {
            let _ = std::fs::remove_file(entry.path());
        }
        Ok(disk)
    }

    /// Where a blob lives.
    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.blobs.join(digest.hex())
    }

    /// The blob's size, if it is stored.
    pub async fn blob_size(&self, digest: &Digest) -> Option<u64> {
        let meta = tokio::fs::metadata(self.blob_path(digest)).await.ok()?;
        meta.is_file().then_some(meta.len())
    }

    /// Marks a blob as just used, so that garbage collection's grace period
    /// protects it while a manifest that needs it is being pushed.
    pub fn touch(&self, digest: &Digest) {
        let path = self.blob_path(digest);
        if let Ok(file) = std::fs::File::options().append(true).open(&path) {
            let _ = file.set_modified(SystemTime::now());
        }
    }

    /// Stores `bytes` as the blob `digest` (already verified by the caller).
    pub async fn put_bytes(&self, digest: &Digest, bytes: &[u8]) -> Result<(), RegistryError> {
        let tmp = self.scratch();
        tokio::fs::write(&tmp, bytes)
            .await
            .map_err(|e| RegistryError::io("cannot write a blob", e))?;
        self.promote(&tmp, digest).await
    }

    /// Streams a request body into `tmp/`, then stores it as `expected` if its
    /// sha256 matches (else DIGEST_INVALID and nothing is kept). Returns the size.
    pub async fn put_stream(&self, expected: &Digest, body: Body) -> Result<u64, RegistryError> {
        let tmp = self.scratch();
        let result = async {
            let (size, actual) = write_body(&tmp, body, false).await?;
            check_digest(expected, &actual)?;
            self.promote(&tmp, expected).await?;
            Ok(size)
        }
        .await;
        if result.is_err() {
            let _ = tokio::fs::remove_file(&tmp).await;
        }
        result
    }

    /// Where an upload session's data accumulates.
    pub fn upload_path(&self, id: &str) -> PathBuf {
        self.uploads.join(id)
    }

    /// Appends a chunk to an upload; returns the bytes written.
    pub async fn append_upload(&self, id: &str, body: Body) -> Result<u64, RegistryError> {
        let (written, _) = write_body(&self.upload_path(id), body, true).await?;
        Ok(written)
    }

    /// Verifies a finished upload against `expected` and moves it into place;
    /// a mismatch removes the data and fails with DIGEST_INVALID.
    pub async fn finish_upload(&self, id: &str, expected: &Digest) -> Result<u64, RegistryError> {
        let path = self.upload_path(id);
        let hashed = path.clone();
        let (size, actual) = tokio::task::spawn_blocking(move || hash_file(&hashed))
            .await
            .map_err(|e| RegistryError::Io(format!("hashing task failed: {e}")))?
            .map_err(|e| RegistryError::io("cannot read the uploaded data", e))?;
        if let Err(err) = check_digest(expected, &actual) {
            let _ = tokio::fs::remove_file(&path).await;
            return Err(err);
        }
        self.promote(&path, expected).await?;
        Ok(size)
    }

    /// Removes an upload's data (missing is fine).
    pub async fn remove_upload(&self, id: &str) {
        let _ = tokio::fs::remove_file(self.upload_path(id)).await;
    }

    /// Every stored blob with its size and last modification.
    pub fn list_blobs(&self) -> io::Result<Vec<(Digest, u64, SystemTime)>> {
        let mut blobs = Vec::new();
        for entry in std::fs::read_dir(&self.blobs)? {
            let entry = entry?;
            let name = entry.file_name();
            let Some(digest) = name.to_str().and_then(Digest::from_hex) else {
                continue;
            };
            let meta = entry.metadata()?;
            blobs.push((digest, meta.len(), meta.modified()?));
        }
        Ok(blobs)
    }

    /// Upload data files with their last modification.
    pub fn list_uploads(&self) -> io::Result<Vec<(String, SystemTime)>> {
        let mut uploads = Vec::new();
        for entry in std::fs::read_dir(&self.uploads)? {
            let entry = entry?;
            if let Some(name) = entry.file_name().to_str() {
                uploads.push((name.to_owned(), entry.metadata()?.modified()?));
            }
        }
        Ok(uploads)
    }

    /// Deletes a blob (missing is fine).
    pub fn delete_blob(&self, digest: &Digest) -> io::Result<()> {
        match std::fs::remove_file(self.blob_path(digest)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    fn scratch(&self) -> PathBuf {
        self.tmp.join(ulid::Ulid::new().to_string())
    }

    async fn promote(&self, from: &Path, digest: &Digest) -> Result<(), RegistryError> {
        tokio::fs::rename(from, self.blob_path(digest))
            .await
            .map_err(|e| RegistryError::io("cannot move a verified blob into place", e))
    }
}

fn check_digest(expected: &Digest, actual: &Digest) -> Result<(), RegistryError> {
    if expected == actual {
        return Ok(());
    }
    Err(RegistryError::new(
        ErrorCode::DigestInvalid,
        format!(
            "the uploaded content has digest {actual}, not the {expected} the client declared; \
             nothing was stored"
        ),
    )
    .with_detail(
        serde_json::json!({ "expected": expected.to_string(), "actual": actual.to_string() }),
    ))
}

/// Writes (or appends) a body to `path`; returns bytes written and their digest.
async fn write_body(path: &Path, body: Body, append: bool) -> Result<(u64, Digest), RegistryError> {
    let mut file = tokio::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .append(append)
        .truncate(!append)
        .open(path)
        .await
        .map_err(|e| RegistryError::io("cannot open upload data", e))?;
    let mut hasher = Sha256::new();
    let mut written = 0u64;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            RegistryError::new(
                ErrorCode::BlobUploadInvalid,
                format!("the upload broke off: {e}"),
            )
        })?;
        hasher.update(&chunk);
        written += chunk.len() as u64;
        file.write_all(&chunk)
            .await
            .map_err(|e| RegistryError::io("cannot write upload data", e))?;
    }
    file.sync_all()
        .await
        .map_err(|e| RegistryError::io("cannot sync upload data", e))?;
    let digest = Digest::from_hex(&hex::encode(hasher.finalize())).expect("sha256 hex");
    Ok((written, digest))
}

fn hash_file(path: &Path) -> io::Result<(u64, Digest)> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let size = io::copy(&mut file, &mut hasher)?;
    let digest = Digest::from_hex(&hex::encode(hasher.finalize())).expect("sha256 hex");
    Ok((size, digest))
}
