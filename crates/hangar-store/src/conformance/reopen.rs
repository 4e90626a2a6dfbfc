//! Case: a store reopened on the same data.

use crate::conformance::support::{next_event, next_events};
use crate::{Store, StoreExt};

/// Data, revisions and history survive closing and reopening. `open` must
/// return a handle on the same underlying data each time; the previous
/// handle is dropped before the next call.
pub async fn reopen_preserves_state<S: Store>(open: impl Fn() -> S) {
    let (written, last) = {
        let store = open();
        let a = store.put("/keep/a", b"a".to_vec()).await.unwrap();
        let b = store.put_json("/keep/b", &vec![1, 2, 3]).await.unwrap();
        store.put("/keep/gone", b"x".to_vec()).await.unwrap();
        let last = store.delete("/keep/gone").await.unwrap().unwrap();
        ((a, b), last)
    };
    let store = open();
    assert_eq!(
        store.current_revision().await.unwrap(),
        last,
        "revision survives reopening"
    );
    let a = store
        .get("/keep/a")
        .await
        .unwrap()
        .expect("/keep/a survives");
    assert_eq!(
        (a.value.as_slice(), a.mod_revision),
        (b"a".as_slice(), written.0)
    );
    assert_eq!(
        store.get_json::<Vec<u32>>("/keep/b").await.unwrap(),
        Some((vec![1, 2, 3], written.1))
    );
    assert_eq!(store.get("/keep/gone").await.unwrap(), None);

    let mut history = store.watch("/keep/", 1).await.unwrap();
    let events = next_events(&mut history, 4).await;
    let revisions: Vec<i64> = events.iter().map(|event| event.kv.mod_revision).collect();
    assert_eq!(
        revisions,
        [written.0, written.1, last - 1, last],
        "history survives reopening"
    );

    let next = store.put("/keep/c", b"c".to_vec()).await.unwrap();
    assert_eq!(next, last + 1, "revisions continue after reopening");
    let live = next_event(&mut history).await;
    assert_eq!(live.kv.mod_revision, next);
}
