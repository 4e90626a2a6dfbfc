//! Cases: single-key reads and writes, revisions, prefix listing.

use crate::{Store, StoreError};

/// A key never written reads as None.
pub async fn get_missing_key_is_none<S: Store>(store: S) {
    assert_eq!(store.get("/missing").await.unwrap(), None);
    assert_eq!(
        store.current_revision().await.unwrap(),
        0,
        "a fresh store is at revision 0"
    );
}

/// create_revision stays, mod_revision and version advance with each put.
pub async fn put_then_get_tracks_revisions_and_version<S: Store>(store: S) {
    let first = store.put("/a", b"one".to_vec()).await.unwrap();
    assert!(
        first > 0,
        "first write must get a positive revision, got {first}"
    );
    let kv = store.get("/a").await.unwrap().expect("key just written");
    assert_eq!(kv.key, "/a");
    assert_eq!(kv.value, b"one");
    assert_eq!(
        (kv.create_revision, kv.mod_revision, kv.version),
        (first, first, 1)
    );

    let second = store.put("/a", b"two".to_vec()).await.unwrap();
    assert_eq!(second, first + 1);
    let kv = store
        .get("/a")
        .await
        .unwrap()
        .expect("key just overwritten");
    assert_eq!(kv.value, b"two");
    assert_eq!(
        (kv.create_revision, kv.mod_revision, kv.version),
        (first, second, 2)
    );

    let empty = store.put("/a", Vec::new()).await.unwrap();
    let kv = store
        .get("/a")
        .await
        .unwrap()
        .expect("an empty value is still a key");
    assert!(kv.value.is_empty());
    assert_eq!((kv.mod_revision, kv.version), (empty, 3));
}

/// One counter shared by all keys, +1 per write, never reused.
pub async fn revisions_are_global_and_monotonic<S: Store>(store: S) {
    let a = store.put("/a", b"1".to_vec()).await.unwrap();
    let b = store.put("/b", b"1".to_vec()).await.unwrap();
    let c = store.put("/a", b"2".to_vec()).await.unwrap();
    assert_eq!(
        (b, c),
        (a + 1, a + 2),
        "each write advances the global revision by one"
    );
    assert_eq!(store.current_revision().await.unwrap(), c);
    let kv_b = store.get("/b").await.unwrap().unwrap();
    assert_eq!(
        kv_b.mod_revision, b,
        "writing /a must not touch /b's revisions"
    );
    let deleted = store.delete("/b").await.unwrap().expect("/b existed");
    assert_eq!(deleted, c + 1);
    let d = store.put("/b", b"again".to_vec()).await.unwrap();
    assert_eq!(d, c + 2, "revisions are never reused after a delete");
}

/// Delete removes the key and advances the revision; deleting an absent key
/// changes nothing; re-creating starts a new life.
pub async fn delete_removes_key_and_restarts_its_life<S: Store>(store: S) {
    let created = store.put("/k", b"v".to_vec()).await.unwrap();
    store.put("/k", b"v2".to_vec()).await.unwrap();
    let deleted = store.delete("/k").await.unwrap().expect("key existed");
    assert_eq!(store.get("/k").await.unwrap(), None);
    assert_eq!(store.current_revision().await.unwrap(), deleted);

    assert_eq!(
        store.delete("/k").await.unwrap(),
        None,
        "deleting an absent key reports None"
    );
    assert_eq!(
        store.current_revision().await.unwrap(),
        deleted,
        "deleting an absent key must not advance the revision"
    );

    let recreated = store.put("/k", b"new".to_vec()).await.unwrap();
    let kv = store.get("/k").await.unwrap().unwrap();
    assert_ne!(kv.create_revision, created);
    assert_eq!(
        (kv.create_revision, kv.mod_revision, kv.version),
        (recreated, recreated, 1)
    );
    assert!(store
        .list("/k")
        .await
        .unwrap()
        .kvs
        .iter()
        .all(|kv| kv.key == "/k"));
}

/// Listing is a byte-wise prefix match, ordered by key, with the revision.
pub async fn list_respects_prefix_boundaries_and_key_order<S: Store>(store: S) {
    let keys = [
        "/apps/web/2",
        "/apps/web/10",
        "/apps/web",
        "/apps/webby/1",
        "/apps/w",
        "/apps-archive/x",
        "/app",
        "/apps/web/\u{e9}t\u{e9}",
        "/b",
    ];
    for key in keys {
        store.put(key, key.as_bytes().to_vec()).await.unwrap();
    }
    let last = store.current_revision().await.unwrap();

    let listing = store.list("/apps/web/").await.unwrap();
    let listed: Vec<&str> = listing.kvs.iter().map(|kv| kv.key.as_str()).collect();
    assert_eq!(
        listed,
        ["/apps/web/10", "/apps/web/2", "/apps/web/\u{e9}t\u{e9}"]
    );
    assert_eq!(
        listing.revision, last,
        "a listing carries the current revision"
    );
    for kv in &listing.kvs {
        assert_eq!(
            kv.value,
            kv.key.as_bytes(),
            "values come back with their keys"
        );
    }

    let listed: Vec<String> = store
        .list("/apps/web")
        .await
        .unwrap()
        .kvs
        .into_iter()
        .map(|kv| kv.key)
        .collect();
    assert_eq!(
        listed,
        [
            "/apps/web",
            "/apps/web/10",
            "/apps/web/2",
            "/apps/web/\u{e9}t\u{e9}",
            "/apps/webby/1"
        ]
    );

    let all: Vec<String> = store
        .list("")
        .await
        .unwrap()
        .kvs
        .into_iter()
        .map(|kv| kv.key)
        .collect();
    let mut sorted: Vec<String> = keys.iter().map(|key| key.to_string()).collect();
    sorted.sort();
    assert_eq!(
        all, sorted,
        "the empty prefix lists every key in byte order"
    );

    let none = store.list("/nothing/").await.unwrap();
    assert!(none.kvs.is_empty());
    assert_eq!(none.revision, last);
}

/// The empty key is refused with a typed error and writes nothing.
pub async fn empty_key_is_rejected<S: Store>(store: S) {
    let start = store.current_revision().await.unwrap();
    match store.put("", b"v".to_vec()).await {
        Err(StoreError::InvalidRequest(_)) => {}
        other => panic!("put with an empty key must be InvalidRequest, got {other:?}"),
    }
    assert_eq!(store.current_revision().await.unwrap(), start);
}
