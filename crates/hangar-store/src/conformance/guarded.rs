//! A store bundled with a value that must outlive it.

use crate::{KeyValue, ListResult, Revision, Store, StoreError, Txn, TxnResponse, WatchStream};

/// A store plus a guard (a temporary directory, a server process) that is
/// dropped only after the store, so `make` closures can hand out fresh stores
/// backed by temporary resources.
pub struct Guarded<S, G> {
    store: S,
    _guard: G,
}

impl<S, G> Guarded<S, G> {
    /// Bundles `store` with `guard`; the store is dropped first.
    pub fn new(store: S, guard: G) -> Self {
        Self {
            store,
            _guard: guard,
        }
    }

    /// The wrapped store.
    pub fn store(&self) -> &S {
        &self.store
    }
}

#[async_trait::async_trait]
impl<S: Store, G: Send + Sync + 'static> Store for Guarded<S, G> {
    async fn get(&self, key: &str) -> Result<Option<KeyValue>, StoreError> {
        self.store.get(key).await
    }

    async fn list(&self, prefix: &str) -> Result<ListResult, StoreError> {
        self.store.list(prefix).await
    }

    async fn put(&self, key: &str, value: Vec<u8>) -> Result<Revision, StoreError> {
        self.store.put(key, value).await
    }

    async fn delete(&self, key: &str) -> Result<Option<Revision>, StoreError> {
        self.store.delete(key).await
    }

    async fn txn(&self, txn: Txn) -> Result<TxnResponse, StoreError> {
        self.store.txn(txn).await
    }

    async fn watch(
        &self,
        prefix: &str,
        from_revision: Revision,
    ) -> Result<WatchStream, StoreError> {
        self.store.watch(prefix, from_revision).await
    }

    async fn compact(&self, revision: Revision) -> Result<(), StoreError> {
        self.store.compact(revision).await
    }

    async fn current_revision(&self) -> Result<Revision, StoreError> {
        self.store.current_revision().await
    }
}
