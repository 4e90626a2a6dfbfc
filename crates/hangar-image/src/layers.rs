//! `layers/sha256/<diff_id>/`: each layer unpacked once, into its own directory.
//!
//! Invariant: a directory under `layers/sha256/` is complete and verified. Layers are
//! unpacked into `tmp/` and renamed into place, under an exclusive `flock` on
//! `locks/<diff_id>.lock`, so concurrent resolves in this or other processes unpack each
//! layer at most once.

use std::fs::{self, File};
use std::io::Read;
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};

use crate::digest::Digest;
use crate::error::ImageError;
use crate::scratch::ScratchPath;
use crate::unpack::{unpack_layer, LayerSpec};

/// The store's layer directories.
#[derive(Debug)]
pub(crate) struct LayerDir {
    dir: PathBuf,
    locks: PathBuf,
    tmp: PathBuf,
}

/// Held while a layer is being unpacked; released on drop.
pub(crate) struct LayerLock {
    _held: Flock<File>,
}

impl LayerDir {
    pub(crate) fn new(dir: PathBuf, locks: PathBuf, tmp: PathBuf) -> LayerDir {
        LayerDir { dir, locks, tmp }
    }

    /// Where the layer with this diff ID lives once unpacked.
    pub(crate) fn path(&self, diff_id: &Digest) -> PathBuf {
        self.dir.join(diff_id.hex())
    }

    /// Blocks until this process holds the layer's lock.
    pub(crate) fn lock(&self, diff_id: &Digest) -> Result<LayerLock, ImageError> {
        let path = self.locks.join(format!("{}.lock", diff_id.hex()));
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| ImageError::io_at("cannot open lock file", &path, e))?;
        Flock::lock(file, FlockArg::LockExclusive)
            .map(|held| LayerLock { _held: held })
            .map_err(|(_, errno)| ImageError::io_at("cannot lock", &path, errno.into()))
    }

    /// Unpacks `blob` into a scratch directory and renames it into place.
    /// The caller holds the layer's lock and has checked that it is not there yet.
    pub(crate) fn unpack_into_place(
        &self,
        blob: impl Read,
        layer: &LayerSpec<'_>,
        key: &Digest,
    ) -> Result<PathBuf, ImageError> {
        let target = self.path(key);
        let scratch = ScratchPath::new(&self.tmp, &format!("layer-{}", key.hex()));
        fs::create_dir(scratch.path())
            .map_err(|e| ImageError::io_at("cannot create", scratch.path(), e))?;
        unpack_layer(blob, layer, scratch.path())?;
        fs::rename(scratch.path(), &target)
            .map_err(|e| ImageError::io_at("cannot move layer into place at", &target, e))?;
        scratch.keep();
        tracing::info!(layer = %layer.digest, path = %target.display(), "unpacked layer");
        Ok(target)
    }

    /// True when every layer is unpacked.
    pub(crate) fn all_present(&self, keys: &[Digest]) -> bool {
        keys.iter().all(|k| is_dir(&self.path(k)))
    }
}

pub(crate) fn is_dir(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok_and(|m| m.is_dir())
}
