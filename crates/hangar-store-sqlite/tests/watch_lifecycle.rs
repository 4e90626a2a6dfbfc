//! SQLite-specific watch behaviour: slow watchers and closing the store.

use std::time::Duration;

use futures_util::StreamExt;
use hangar_store::{Store, StoreError};
use hangar_store_sqlite::{SqliteStore, SqliteStoreOptions};

const WAIT: Duration = Duration::from_secs(20);

async fn next(
    stream: &mut hangar_store::WatchStream,
) -> Option<Result<hangar_store::WatchEvent, StoreError>> {
    tokio::time::timeout(WAIT, stream.next())
        .await
        .expect("timed out waiting on the watch stream")
}

/// A watcher that never reads cannot stall writers: it is cut off with
/// `WatchLagged` after its buffered events, and resuming loses nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_watcher_is_dropped_without_blocking_writers() {
    let dir = tempfile::tempdir().unwrap();
    let options = SqliteStoreOptions {
        watch_buffer_revisions: 4,
        ..Default::default()
    };
    let store = SqliteStore::open_with(&dir.path().join("state.db"), options).unwrap();
    let mut slow = store.watch("/s/", 0).await.unwrap();

    let mut written = Vec::new();
    for i in 0..50 {
        let key = format!("/s/{i}");
        let put = store.put(&key, vec![i]);
        written.push(
            tokio::time::timeout(WAIT, put)
                .await
                .expect("writer blocked")
                .unwrap(),
        );
    }

    let mut seen = Vec::new();
    let resume = loop {
        match next(&mut slow).await {
            Some(Ok(event)) => seen.push(event.kv.mod_revision),
            Some(Err(StoreError::WatchLagged { resume_revision })) => break resume_revision,
            other => panic!("expected buffered events then WatchLagged, got {other:?}"),
        }
    };
    assert_eq!(
        seen,
        written[..4],
        "the buffered revisions are delivered before the error"
    );
    assert!(
        next(&mut slow).await.is_none(),
        "a lagged stream ends after its error"
    );
    assert_eq!(resume, written[3] + 1);

    let mut resumed = store.watch("/s/", resume).await.unwrap();
    for expected in &written[4..] {
        let event = next(&mut resumed).await.unwrap().unwrap();
        assert_eq!(event.kv.mod_revision, *expected);
    }
}

/// Dropping the store ends open watch streams with `Unavailable`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_the_store_ends_watch_streams() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("state.db")).unwrap();
    let mut stream = store.watch("", 0).await.unwrap();
    drop(store);
    match next(&mut stream).await {
        Some(Err(StoreError::Unavailable(message))) => assert!(message.contains("closed")),
        other => panic!("expected Unavailable after closing, got {other:?}"),
    }
    assert!(next(&mut stream).await.is_none());
}

/// Opening a database in a missing directory says what is wrong.
#[test]
fn opening_in_a_missing_directory_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no-such-dir").join("state.db");
    match SqliteStore::open(&path) {
        Err(StoreError::Backend(message)) => {
            assert!(
                message.contains("no-such-dir"),
                "message should name the path: {message}"
            );
        }
        Err(other) => panic!("expected a Backend error, got {other}"),
        Ok(_) => panic!("opening in a missing directory must fail"),
    }
}

/// A file that is not a SQLite database is reported as corrupt.
#[test]
fn opening_a_non_database_file_reports_corruption() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    std::fs::write(&path, vec![0x42u8; 8192]).unwrap();
    match SqliteStore::open(&path) {
        Err(StoreError::Corrupt(message)) => assert!(message.contains("backup"), "{message}"),
        Err(other) => panic!("expected Corrupt, got {other}"),
        Ok(_) => panic!("opening garbage must fail"),
    }
}

/// Compacting while a watcher is still replaying ends its stream with
/// `Compacted` once it reaches the discarded history, never with a gap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compaction_during_replay_fails_the_watch_instead_of_skipping() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("state.db")).unwrap();
    for i in 0..1500 {
        store
            .put(&format!("/long/{}", i % 10), vec![1])
            .await
            .unwrap();
    }
    let mut stream = store.watch("/long/", 1).await.unwrap();
    let first = next(&mut stream).await.unwrap().unwrap();
    assert_eq!(first.kv.mod_revision, 1);
    let now = store.current_revision().await.unwrap();
    store.compact(now).await.unwrap();

    let mut previous = first.kv.mod_revision;
    loop {
        match next(&mut stream).await {
            Some(Ok(event)) => {
                assert_eq!(event.kv.mod_revision, previous + 1, "replay must not skip");
                previous = event.kv.mod_revision;
            }
            Some(Err(StoreError::Compacted { compact_revision })) => {
                assert_eq!(compact_revision, now);
                break;
            }
            other => panic!("expected Compacted during replay, got {other:?}"),
        }
    }
    assert!(
        previous < now,
        "the watcher could not have replayed compacted history"
    );
    assert!(next(&mut stream).await.is_none());
}

/// With a history retention set, old history is compacted automatically and
/// watches from inside the retained window keep working.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_retention_compacts_automatically() {
    let dir = tempfile::tempdir().unwrap();
    let options = SqliteStoreOptions {
        history_retention: Some(20),
        ..Default::default()
    };
    let store = SqliteStore::open_with(&dir.path().join("state.db"), options).unwrap();
    for i in 0..200 {
        store
            .put(&format!("/auto/{}", i % 3), vec![1])
            .await
            .unwrap();
    }
    let now = store.current_revision().await.unwrap();
    match store.watch("/auto/", 1).await {
        Err(StoreError::Compacted { compact_revision }) => {
            assert!(
                compact_revision > 1 && compact_revision <= now - 20,
                "{compact_revision}"
            );
        }
        other => panic!(
            "expected old history to be compacted, got {:?}",
            other.map(|_| ())
        ),
    }
    let mut recent = store.watch("/auto/", now - 19).await.unwrap();
    for expected in now - 19..=now {
        let event = next(&mut recent).await.unwrap().unwrap();
        assert_eq!(event.kv.mod_revision, expected);
    }
    assert_eq!(store.list("/auto/").await.unwrap().kvs.len(), 3);
}

/// A second store on the same file is refused while the first is open, and
/// allowed once it is closed.
#[test]
fn a_database_is_opened_by_one_store_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let first = SqliteStore::open(&path).unwrap();
    match SqliteStore::open(&path) {
        Err(StoreError::Unavailable(message)) => {
            assert!(message.contains("already open"), "{message}");
        }
        Err(other) => panic!("expected Unavailable, got {other}"),
        Ok(_) => panic!("a second store on the same file must be refused"),
    }
    drop(first);
    SqliteStore::open(&path).expect("reopening after the first store closed");
}
