//! Cases: watch replay, live events, resumption, prefixes, deletes.

use std::sync::Arc;

use crate::conformance::support::{
    bounded, expect_only_marker_next, keys_and_revisions, next_event, next_events,
};
use crate::{Op, Store, Txn, WatchEventKind};

/// Watch from a past revision replays from there, then continues live.
pub async fn watch_replays_history_then_streams_live<S: Store>(store: S) {
    let r1 = store.put("/w/a", b"1".to_vec()).await.unwrap();
    let r2 = store.put("/w/b", b"1".to_vec()).await.unwrap();
    let r3 = store.put("/w/a", b"2".to_vec()).await.unwrap();

    let mut stream = store.watch("/w/", r2).await.unwrap();
    let replayed = next_events(&mut stream, 2).await;
    assert_eq!(
        keys_and_revisions(&replayed),
        [("/w/b".to_string(), r2), ("/w/a".to_string(), r3)],
        "replay starts at from_revision inclusive"
    );
    assert_eq!(replayed[1].kind, WatchEventKind::Put);
    assert_eq!(replayed[1].kv.value, b"2");
    assert_eq!(replayed[1].kv.version, 2);
    let prev = replayed[1].prev.as_ref().expect("overwrite carries prev");
    assert_eq!(
        (prev.value.as_slice(), prev.mod_revision),
        (b"1".as_slice(), r1)
    );
    assert_eq!(replayed[0].prev, None, "creation has no prev");

    let r4 = store.put("/w/c", b"live".to_vec()).await.unwrap();
    let live = next_event(&mut stream).await;
    assert_eq!((live.kv.key.as_str(), live.kv.mod_revision), ("/w/c", r4));
    assert_eq!(live.kv.value, b"live");

    let mut from_start = store.watch("/w/", 1).await.unwrap();
    let all = next_events(&mut from_start, 4).await;
    assert_eq!(
        all.iter()
            .map(|event| event.kv.mod_revision)
            .collect::<Vec<_>>(),
        [r1, r2, r3, r4]
    );
}

/// Watch from 0 starts after the current revision.
pub async fn watch_from_now_sees_only_new_events<S: Store>(store: S) {
    store.put("/n/old", b"1".to_vec()).await.unwrap();
    let mut stream = store.watch("/n/", 0).await.unwrap();
    let fresh = store.put("/n/new", b"1".to_vec()).await.unwrap();
    let event = next_event(&mut stream).await;
    assert_eq!(
        (event.kv.key.as_str(), event.kv.mod_revision),
        ("/n/new", fresh)
    );
}

/// Watch from a revision not reached yet delivers from it once it is written.
pub async fn watch_from_future_revision_waits_for_it<S: Store>(store: S) {
    let now = store.put("/f/0", b"0".to_vec()).await.unwrap();
    let mut stream = store.watch("/f/", now + 2).await.unwrap();
    store.put("/f/1", b"1".to_vec()).await.unwrap();
    let wanted = store.put("/f/2", b"2".to_vec()).await.unwrap();
    assert_eq!(wanted, now + 2);
    let event = next_event(&mut stream).await;
    assert_eq!(
        (event.kv.key.as_str(), event.kv.mod_revision),
        ("/f/2", now + 2)
    );
}

/// Drop a watch, write more, re-watch from last seen + 1: no gap, no duplicate.
pub async fn watch_resumes_after_disconnect_without_gap_or_duplicate<S: Store>(store: S) {
    let mut stream = store.watch("/r/", 1).await.unwrap();
    let mut expected = Vec::new();
    for i in 0..3 {
        let key = format!("/r/{i}");
        expected.push((key.clone(), store.put(&key, vec![i]).await.unwrap()));
    }
    let seen = next_events(&mut stream, 3).await;
    let last_seen = seen.last().unwrap().kv.mod_revision;
    drop(stream);

    // Written while nobody watches, including a multi-key revision.
    for i in 3..6 {
        let key = format!("/r/{i}");
        expected.push((key.clone(), store.put(&key, vec![i]).await.unwrap()));
    }
    let response = store
        .txn(Txn::new().then(vec![
            Op::put("/r/x", b"x".to_vec()),
            Op::put("/r/y", b"y".to_vec()),
        ]))
        .await
        .unwrap();
    expected.push(("/r/x".to_string(), response.revision));
    expected.push(("/r/y".to_string(), response.revision));

    let mut resumed = store.watch("/r/", last_seen + 1).await.unwrap();
    let rest = next_events(&mut resumed, 5).await;
    let mut got = keys_and_revisions(&seen);
    got.extend(keys_and_revisions(&rest));
    assert_eq!(
        got, expected,
        "resumed watch must continue exactly after the last event seen"
    );
    expect_only_marker_next(&store, &mut resumed, "/r/marker").await;
}

/// A watch sees its prefix only (with exact byte-prefix boundaries).
pub async fn watch_prefix_sees_only_that_prefix<S: Store>(store: S) {
    let mut stream = store.watch("/apps/web/", 1).await.unwrap();
    store.put("/apps/web", b"no".to_vec()).await.unwrap();
    store.put("/apps/webby/1", b"no".to_vec()).await.unwrap();
    let inside = store.put("/apps/web/1", b"yes".to_vec()).await.unwrap();
    store.put("/apps/db/1", b"no".to_vec()).await.unwrap();
    store.delete("/apps/web").await.unwrap();
    let event = next_event(&mut stream).await;
    assert_eq!(
        (event.kv.key.as_str(), event.kv.mod_revision),
        ("/apps/web/1", inside)
    );
    expect_only_marker_next(&store, &mut stream, "/apps/web/marker").await;
}

/// Deletes stream as Delete events with the delete's revision and the prev.
pub async fn watch_reports_deletes_with_prev<S: Store>(store: S) {
    let created = store.put("/d/a", b"a".to_vec()).await.unwrap();
    store.put("/d/b", b"b".to_vec()).await.unwrap();
    let mut stream = store.watch("/d/", 0).await.unwrap();

    let deleted = store.delete("/d/a").await.unwrap().unwrap();
    let event = next_event(&mut stream).await;
    assert_eq!(event.kind, WatchEventKind::Delete);
    assert_eq!(
        (event.kv.key.as_str(), event.kv.mod_revision),
        ("/d/a", deleted)
    );
    let prev = event
        .prev
        .expect("a delete event carries the removed state");
    assert_eq!(
        (prev.value.as_slice(), prev.mod_revision),
        (b"a".as_slice(), created)
    );

    store.put("/d/c", b"c".to_vec()).await.unwrap();
    let response = store
        .txn(Txn::new().then(Op::delete_prefix("/d/")))
        .await
        .unwrap();
    let events = next_events(&mut stream, 3).await;
    assert_eq!(events[0].kind, WatchEventKind::Put);
    let deletes: Vec<_> = events[1..]
        .iter()
        .map(|event| (event.kind, event.kv.key.as_str(), event.kv.mod_revision))
        .collect();
    assert_eq!(
        deletes,
        [
            (WatchEventKind::Delete, "/d/b", response.revision),
            (WatchEventKind::Delete, "/d/c", response.revision),
        ]
    );

    // The same history replays identically.
    let mut replay = store.watch("/d/", deleted).await.unwrap();
    let replayed = next_events(&mut replay, 4).await;
    assert_eq!(
        replayed[0].prev.as_ref().map(|kv| kv.mod_revision),
        Some(created)
    );
    assert_eq!(replayed[1..], events[..]);
}

/// A watch started while writes are in flight misses none and repeats none.
pub async fn watch_handover_under_concurrent_writes<S: Store>(store: S) {
    const WRITES: usize = 300;
    let store = Arc::new(store);
    let writer = {
        let store = store.clone();
        tokio::spawn(async move {
            let mut revisions = Vec::with_capacity(WRITES);
            for i in 0..WRITES {
                revisions.push(store.put(&format!("/h/{}", i % 7), vec![1]).await.unwrap());
            }
            revisions
        })
    };
    // Start watching from the beginning while the writer runs.
    let mut stream = store.watch("/h/", 1).await.unwrap();
    let revisions = bounded("the concurrent writer", writer)
        .await
        .expect("writer panicked");
    let events = next_events(&mut stream, WRITES).await;
    let seen: Vec<i64> = events.iter().map(|event| event.kv.mod_revision).collect();
    assert_eq!(
        seen, revisions,
        "every write exactly once, in revision order"
    );
    expect_only_marker_next(store.as_ref(), &mut stream, "/h/marker").await;
}

/// Replay of many events, including one revision with hundreds of events,
/// arrives complete and in order (backends page or fragment large replays).
pub async fn watch_replays_large_revisions_completely<S: Store>(store: S) {
    const BATCHES: usize = 6;
    const KEYS_PER_BATCH: usize = 120;
    let mut expected = Vec::new();
    for batch in 0..BATCHES {
        let ops: Vec<Op> = (0..KEYS_PER_BATCH)
            .map(|i| Op::put(format!("/big/{batch:02}/{i:04}"), vec![b'v'; 64]))
            .collect();
        let keys: Vec<String> = ops
            .iter()
            .map(|op| match op {
                Op::Put { key, .. } => key.clone(),
                _ => unreachable!("only puts were built"),
            })
            .collect();
        let revision = store.txn(Txn::new().then(ops)).await.unwrap().revision;
        expected.extend(
            keys.into_iter()
                .map(|key| (WatchEventKind::Put, key, revision)),
        );
    }
    let first = expected[0].2;
    let wipe = store
        .txn(Txn::new().then(Op::delete_prefix("/big/")))
        .await
        .unwrap()
        .revision;
    let mut deleted: Vec<_> = expected
        .iter()
        .map(|(_, key, _)| (WatchEventKind::Delete, key.clone(), wipe))
        .collect();
    deleted.sort_by(|a, b| a.1.cmp(&b.1));
    expected.extend(deleted);

    let mut stream = store.watch("/big/", first).await.unwrap();
    let events = next_events(&mut stream, expected.len()).await;
    let got: Vec<_> = events
        .into_iter()
        .map(|event| (event.kind, event.kv.key, event.kv.mod_revision))
        .collect();
    assert_eq!(got.len(), expected.len());
    assert!(
        got == expected,
        "large replay differs from the writes (order or content)"
    );
    expect_only_marker_next(&store, &mut stream, "/big/marker").await;
}
