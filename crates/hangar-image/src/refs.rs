//! `refs/`: which manifest each reference resolved to, one small JSON file per reference.

use std::fs;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::blobs::write_atomically;
use crate::digest::Digest;
use crate::error::ImageError;

/// What a reference resolved to last time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RefRecord {
    /// The canonical spelling of the reference.
    pub reference: String,
    /// The platform manifest's digest.
    pub digest: String,
    /// The tag the image was found under, for local sources selected without one.
    #[serde(default)]
    pub tag: Option<String>,
}

/// The reference index.
#[derive(Debug)]
pub(crate) struct RefIndex {
    dir: PathBuf,
    tmp: PathBuf,
}

impl RefIndex {
    pub(crate) fn new(dir: PathBuf, tmp: PathBuf) -> RefIndex {
        RefIndex { dir, tmp }
    }

    fn path(&self, canonical: &str) -> PathBuf {
        self.dir
            .join(format!("{}.json", Digest::of(canonical.as_bytes()).hex()))
    }

    /// The record for a canonical reference, if it was resolved before.
    pub(crate) fn get(&self, canonical: &str) -> Option<RefRecord> {
        let bytes = fs::read(self.path(canonical)).ok()?;
        let record: RefRecord = serde_json::from_slice(&bytes).ok()?;
        (record.reference == canonical).then_some(record)
    }

    /// Records (or replaces) what a reference resolved to. A record already
    /// stored as it is is not written again: re-resolving an unchanged local
    /// image (every start of a Machine from an `oci:` layout) costs no file
    /// write and no fsync.
    pub(crate) fn put(&self, record: &RefRecord) -> Result<(), ImageError> {
        if self.get(&record.reference).as_ref() == Some(record) {
            return Ok(());
        }
        let bytes = serde_json::to_vec_pretty(record).map_err(|e| {
            ImageError::io("serialising a reference record", std::io::Error::other(e))
        })?;
        write_atomically(&self.tmp, &self.path(&record.reference), &bytes)
    }
}
