//! `blobs/sha256/<hex>`: manifests and configs of resolved images, written atomically.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::digest::Digest;
use crate::error::ImageError;
use crate::scratch::ScratchPath;

/// The store's blob directory.
#[derive(Debug)]
pub(crate) struct BlobDir {
    dir: PathBuf,
    tmp: PathBuf,
}

impl BlobDir {
    pub(crate) fn new(dir: PathBuf, tmp: PathBuf) -> BlobDir {
        BlobDir { dir, tmp }
    }

    pub(crate) fn path(&self, digest: &Digest) -> PathBuf {
        self.dir.join(digest.hex())
    }

    /// Stores `bytes` under `digest` (which the caller has verified) unless already there.
    pub(crate) fn write(&self, digest: &Digest, bytes: &[u8]) -> Result<(), ImageError> {
        let target = self.path(digest);
        if target.exists() {
            return Ok(());
        }
        write_atomically(&self.tmp, &target, bytes)
    }

    /// The blob's bytes, or `None` when it is not stored.
    pub(crate) fn read(&self, digest: &Digest) -> io::Result<Option<Vec<u8>>> {
        match fs::read(self.path(digest)) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// Writes `bytes` to a scratch file, syncs it and renames it to `target`.
pub(crate) fn write_atomically(tmp: &Path, target: &Path, bytes: &[u8]) -> Result<(), ImageError> {
    let scratch = ScratchPath::new(tmp, "write");
    let mut file = fs::File::create(scratch.path())
        .map_err(|e| ImageError::io_at("cannot create", scratch.path(), e))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| ImageError::io_at("cannot write", scratch.path(), e))?;
    fs::rename(scratch.path(), target)
        .map_err(|e| ImageError::io_at("cannot move into place", target, e))?;
    scratch.keep();
    Ok(())
}
