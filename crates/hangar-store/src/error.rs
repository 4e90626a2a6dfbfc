//! Errors every backend reports.

use crate::Revision;

/// What can go wrong talking to a store.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The requested revision is older than the oldest kept history.
    #[error(
        "revision history before {compact_revision} has been compacted; \
         list the keys again and watch from the listing's revision + 1"
    )]
    Compacted {
        /// Oldest revision still available in history.
        compact_revision: Revision,
    },
    /// A watcher fell too far behind the writers and was dropped so it would
    /// not block them. Nothing was lost: watch again from `resume_revision`.
    #[error(
        "watcher fell behind the writers and was disconnected; \
         watch again from revision {resume_revision}"
    )]
    WatchLagged {
        /// First revision this watcher has not received yet.
        resume_revision: Revision,
    },
    /// The request itself is malformed (for example a transaction that writes
    /// the same key twice). Retrying it unchanged will fail again.
    #[error("invalid store request: {0}")]
    InvalidRequest(String),
    /// The backend cannot be reached or is shutting down; retry later.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// Stored data is inconsistent or unreadable; needs operator attention.
    #[error("store data is corrupt: {0}")]
    Corrupt(String),
    /// A value could not be encoded to or decoded from JSON.
    #[error("value of key {key:?} is not valid JSON for the expected type: {message}")]
    Serialization {
        /// Key whose value failed.
        key: String,
        /// What serde reported.
        message: String,
    },
    /// Any other backend failure (I/O, driver error).
    #[error("store backend error: {0}")]
    Backend(String),
}

impl StoreError {
    /// True for errors that may succeed when retried unchanged.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            StoreError::Unavailable(_) | StoreError::WatchLagged { .. }
        )
    }
}
