//! Watch events and streams.

use std::pin::Pin;

use crate::{KeyValue, StoreError};

/// Whether a watch event wrote or removed a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WatchEventKind {
    /// The key was created or overwritten.
    Put,
    /// The key was deleted.
    Delete,
}

/// One change to one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchEvent {
    /// Put or delete.
    pub kind: WatchEventKind,
    /// For a put: the new state. For a delete: the key, an empty value,
    /// `mod_revision` = revision of the delete, `create_revision` and `version` 0.
    pub kv: KeyValue,
    /// State of the key before this event, if it existed.
    pub prev: Option<KeyValue>,
}

impl WatchEvent {
    /// Revision at which this event happened.
    pub fn revision(&self) -> crate::Revision {
        self.kv.mod_revision
    }
}

/// Events in revision order (and, within a revision, in op order). The
/// stream ends with an `Err` item when the watch cannot continue, for example
/// [`StoreError::WatchLagged`] or [`StoreError::Compacted`].
pub type WatchStream =
    Pin<Box<dyn futures_util::Stream<Item = Result<WatchEvent, StoreError>> + Send>>;
