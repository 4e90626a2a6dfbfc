//! Cases: concurrent writers.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::conformance::support::bounded;
use crate::{Store, StoreExt};

const TASKS: u64 = 8;
const INCREMENTS_PER_TASK: u64 = 25;
const PUTS_PER_TASK: u64 = 20;

/// N tasks increment one counter through CAS retry loops: no lost update.
pub async fn concurrent_cas_increments_lose_no_update<S: Store>(store: S) {
    let store = Arc::new(store);
    store.put_json("/counter", &0u64).await.unwrap();
    let mut tasks = Vec::new();
    for _ in 0..TASKS {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut conflicts = 0u64;
            for _ in 0..INCREMENTS_PER_TASK {
                loop {
                    let (value, revision) = store
                        .get_json::<u64>("/counter")
                        .await
                        .unwrap()
                        .expect("counter exists");
                    match store
                        .cas_json("/counter", &(value + 1), revision)
                        .await
                        .unwrap()
                    {
                        Ok(_) => break,
                        Err(_) => conflicts += 1,
                    }
                }
            }
            conflicts
        }));
    }
    for task in tasks {
        bounded("a CAS increment task", task)
            .await
            .expect("CAS task panicked");
    }
    let (value, _) = store.get_json::<u64>("/counter").await.unwrap().unwrap();
    assert_eq!(
        value,
        TASKS * INCREMENTS_PER_TASK,
        "every successful CAS must count once"
    );
    let kv = store.get("/counter").await.unwrap().unwrap();
    assert_eq!(kv.version, 1 + (TASKS * INCREMENTS_PER_TASK) as i64);
}

/// Concurrent puts get distinct, gap-free revisions.
pub async fn concurrent_puts_get_distinct_revisions<S: Store>(store: S) {
    let store = Arc::new(store);
    let start = store.current_revision().await.unwrap();
    let mut tasks = Vec::new();
    for task in 0..TASKS {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut revisions = Vec::new();
            for put in 0..PUTS_PER_TASK {
                let key = format!("/p/{task}/{put}");
                revisions.push(store.put(&key, vec![1]).await.unwrap());
            }
            revisions
        }));
    }
    let mut all = BTreeSet::new();
    for task in tasks {
        let revisions = bounded("a put task", task)
            .await
            .expect("put task panicked");
        assert!(
            revisions.windows(2).all(|w| w[0] < w[1]),
            "one task's revisions must increase"
        );
        all.extend(revisions);
    }
    let total = (TASKS * PUTS_PER_TASK) as i64;
    let expected: BTreeSet<i64> = (start + 1..=start + total).collect();
    assert_eq!(all, expected, "each put gets its own revision, with no gap");
    assert_eq!(store.list("/p/").await.unwrap().kvs.len() as i64, total);
}
