//! Keys, values and revisions.

use serde::{Deserialize, Serialize};

/// A point in the store's history. Starts at 0 (empty store) and grows by one
/// per write transaction.
pub type Revision = i64;

/// A live key with its value and bookkeeping revisions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyValue {
    /// The key.
    pub key: String,
    /// The value bytes (empty for the key of a delete event).
    pub value: Vec<u8>,
    /// Revision of the put that created the key (in its current life).
    pub create_revision: Revision,
    /// Revision of the last write to the key.
    pub mod_revision: Revision,
    /// Number of puts since the key was created; 0 for the key of a delete event.
    pub version: i64,
}

/// Result of a prefix listing: the keys and the store revision the listing is
/// consistent with. Watch from `revision + 1` to follow changes after it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ListResult {
    /// Matching keys, ordered by key (byte order).
    pub kvs: Vec<KeyValue>,
    /// Store revision at the time of the listing.
    pub revision: Revision,
}

/// True when `key` lies under `prefix` (byte-wise prefix; the empty prefix
/// matches every key). Backends and watchers use this one definition.
pub fn prefix_matches(prefix: &str, key: &str) -> bool {
    key.as_bytes().starts_with(prefix.as_bytes())
}
