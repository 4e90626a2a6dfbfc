//! The backend trait.

use std::sync::Arc;

use crate::{KeyValue, ListResult, Revision, StoreError, Txn, TxnResponse, WatchStream};

/// A revisioned key-value store with watch. See the crate docs for the model.
///
/// Keys are non-empty UTF-8 strings compared byte-wise; values are bytes.
#[async_trait::async_trait]
pub trait Store: Send + Sync + 'static {
    /// The key's current state, or None if it does not exist.
    async fn get(&self, key: &str) -> Result<Option<KeyValue>, StoreError>;

    /// Every key under `prefix` (byte-wise; "" = all), ordered by key, with the
    /// revision the listing is consistent with.
    async fn list(&self, prefix: &str) -> Result<ListResult, StoreError>;

    /// Creates or overwrites `key`; returns the new revision.
    async fn put(&self, key: &str, value: Vec<u8>) -> Result<Revision, StoreError>;

    /// Removes `key`; returns the revision of the delete, or None if the key
    /// did not exist (then nothing is written and the revision is unchanged).
    async fn delete(&self, key: &str) -> Result<Option<Revision>, StoreError>;

    /// Runs a transaction atomically; see [`Txn`].
    async fn txn(&self, txn: Txn) -> Result<TxnResponse, StoreError>;

    /// Streams events on keys under `prefix` with `mod_revision >= from_revision`:
    /// first the retained history, then live events, with no gap or duplicate.
    /// `from_revision` 0 means "from now" (only events after the call).
    /// Fails with [`StoreError::Compacted`] if `from_revision` is older than
    /// the compacted history.
    async fn watch(&self, prefix: &str, from_revision: Revision)
        -> Result<WatchStream, StoreError>;

    /// Discards history before `revision`; get and list are unaffected. Fails
    /// with [`StoreError::InvalidRequest`] for a revision beyond the current one;
    /// compacting to a revision at or below the previous compaction does nothing.
    async fn compact(&self, revision: Revision) -> Result<(), StoreError>;

    /// The store's current revision (the revision of the last write; a fresh
    /// SQLite store is at 0, a fresh etcd at 1).
    async fn current_revision(&self) -> Result<Revision, StoreError>;
}

/// Forwards every [`Store`] method through a smart pointer.
macro_rules! forward_store {
    ($pointer:ident) => {
        #[async_trait::async_trait]
        impl<S: Store + ?Sized> Store for $pointer<S> {
            async fn get(&self, key: &str) -> Result<Option<KeyValue>, StoreError> {
                (**self).get(key).await
            }

            async fn list(&self, prefix: &str) -> Result<ListResult, StoreError> {
                (**self).list(prefix).await
            }

            async fn put(&self, key: &str, value: Vec<u8>) -> Result<Revision, StoreError> {
                (**self).put(key, value).await
            }

            async fn delete(&self, key: &str) -> Result<Option<Revision>, StoreError> {
                (**self).delete(key).await
            }

            async fn txn(&self, txn: Txn) -> Result<TxnResponse, StoreError> {
                (**self).txn(txn).await
            }

            async fn watch(
                &self,
                prefix: &str,
                from_revision: Revision,
            ) -> Result<WatchStream, StoreError> {
                (**self).watch(prefix, from_revision).await
            }

            async fn compact(&self, revision: Revision) -> Result<(), StoreError> {
                (**self).compact(revision).await
            }

            async fn current_revision(&self) -> Result<Revision, StoreError> {
                (**self).current_revision().await
            }
        }
    };
}

forward_store!(Arc);
forward_store!(Box);

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::{Store, StoreExt};

    /// Compile-time check: shared trait objects get the JSON helpers too.
    #[allow(dead_code)]
    async fn json_helpers_on_trait_objects(shared: Arc<dyn Store>, boxed: Box<dyn Store>) {
        let _ = shared.get_json::<u32>("/k").await;
        let _ = boxed.put_json("/k", &1u32).await;
        let _ = (*shared).list_json::<u32>("/").await;
    }
}
