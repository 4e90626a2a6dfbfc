//! The backend-agnostic conformance suite against real SQLite files.

use hangar_store::conformance::{self, Guarded};
use hangar_store_sqlite::SqliteStore;
use tempfile::TempDir;

/// A fresh store in its own temporary directory, removed after the store.
fn fresh_store() -> Guarded<SqliteStore, TempDir> {
    let dir = tempfile::tempdir().expect("creating a temporary directory");
    let store = SqliteStore::open(&dir.path().join("state.db")).expect("opening a fresh store");
    Guarded::new(store, dir)
}

hangar_store::conformance_tests!(fresh_store);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reopen_preserves_state() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    conformance::reopen_preserves_state(|| SqliteStore::open(&path).unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_all_passes() {
    conformance::run_all(fresh_store).await;
}
