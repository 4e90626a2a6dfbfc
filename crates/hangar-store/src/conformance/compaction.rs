//! Cases: compaction.

use crate::conformance::support::{expect_only_marker_next, next_events};
use crate::{Store, StoreError, WatchEventKind};

/// Compaction keeps get/list, fails watches from before it with `Compacted`,
/// and keeps replay (with prev) from its revision on.
pub async fn compaction_keeps_state_and_fails_old_watches<S: Store>(store: S) {
    let first = store.put("/c/a", b"1".to_vec()).await.unwrap();
    store.put("/c/b", b"1".to_vec()).await.unwrap();
    store.delete("/c/b").await.unwrap();
    let a2 = store.put("/c/a", b"2".to_vec()).await.unwrap();
    let compact_at = store.put("/c/c", b"1".to_vec()).await.unwrap();
    let a3 = store.put("/c/a", b"3".to_vec()).await.unwrap();

    store.compact(compact_at).await.unwrap();

    let kv = store.get("/c/a").await.unwrap().unwrap();
    assert_eq!(
        (kv.value.as_slice(), kv.create_revision, kv.version),
        (b"3".as_slice(), first, 3)
    );
    let keys: Vec<String> = store
        .list("/c/")
        .await
        .unwrap()
        .kvs
        .into_iter()
        .map(|kv| kv.key)
        .collect();
    assert_eq!(keys, ["/c/a", "/c/c"]);

    for from in [1, compact_at - 1] {
        match store.watch("/c/", from).await {
            Err(StoreError::Compacted { compact_revision }) => {
                assert_eq!(compact_revision, compact_at)
            }
            Ok(_) => panic!("watch from compacted revision {from} must fail"),
            Err(other) => panic!("watch from {from}: expected Compacted, got {other}"),
        }
    }

    let mut stream = store.watch("/c/", compact_at).await.unwrap();
    let events = next_events(&mut stream, 2).await;
    assert_eq!(events[0].kv.key, "/c/c");
    assert_eq!(
        (events[1].kv.key.as_str(), events[1].kind),
        ("/c/a", WatchEventKind::Put)
    );
    assert_eq!(events[1].kv.mod_revision, a3);
    let prev = events[1]
        .prev
        .as_ref()
        .expect("prev from before the compaction is kept");
    assert_eq!(
        (prev.value.as_slice(), prev.mod_revision),
        (b"2".as_slice(), a2)
    );
    expect_only_marker_next(&store, &mut stream, "/c/marker").await;

    // Compacting again to an older revision is a no-op; beyond now is refused.
    store.compact(first).await.unwrap();
    assert!(matches!(
        store.watch("/c/", 1).await,
        Err(StoreError::Compacted { .. })
    ));
    let now = store.current_revision().await.unwrap();
    assert!(matches!(
        store.compact(now + 10).await,
        Err(StoreError::InvalidRequest(_))
    ));
    store.compact(now).await.unwrap();
    assert_eq!(
        store.get("/c/marker").await.unwrap().unwrap().mod_revision,
        now
    );
    let mut live = store.watch("/c/", now).await.unwrap();
    let replayed = next_events(&mut live, 1).await;
    assert_eq!(replayed[0].kv.key, "/c/marker");
}
