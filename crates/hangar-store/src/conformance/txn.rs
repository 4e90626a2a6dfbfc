//! Cases: compare-and-set, transactions, JSON helpers.

use serde::{Deserialize, Serialize};

use crate::{Compare, Conflict, Op, OpResult, Store, StoreError, StoreExt, Txn};

/// `cas_json` with 0 creates only; a stale revision is a typed conflict.
pub async fn cas_create_only_and_conflicts<S: Store>(store: S) {
    let created = store
        .cas_json("/lock", &"owner-a", 0)
        .await
        .unwrap()
        .expect("create-only on an absent key");
    let conflict = store.cas_json("/lock", &"owner-b", 0).await.unwrap();
    assert_eq!(
        conflict,
        Err(Conflict {
            key: "/lock".to_string(),
            expected_mod_revision: 0,
            current_mod_revision: Some(created),
        })
    );
    let updated = store
        .cas_json("/lock", &"owner-a2", created)
        .await
        .unwrap()
        .expect("CAS at the current revision");
    assert!(updated > created);
    let stale = store.cas_json("/lock", &"owner-c", created).await.unwrap();
    assert_eq!(stale.unwrap_err().current_mod_revision, Some(updated));
    let (value, revision) = store.get_json::<String>("/lock").await.unwrap().unwrap();
    assert_eq!(
        (value.as_str(), revision),
        ("owner-a2", updated),
        "a lost CAS must not write"
    );

    store.delete("/lock").await.unwrap();
    let on_missing = store.cas_json("/lock", &"x", updated).await.unwrap();
    assert_eq!(on_missing.unwrap_err().current_mod_revision, None);
}

/// Success or failure branch runs whole, under one new revision.
pub async fn txn_runs_success_or_failure_branch_atomically<S: Store>(store: S) {
    let base = store.put("/cfg", b"v1".to_vec()).await.unwrap();
    store.put("/old", b"x".to_vec()).await.unwrap();
    let before = store.current_revision().await.unwrap();

    let response = store
        .txn(
            Txn::new()
                .when(Compare::mod_revision("/cfg", base))
                .then(vec![
                    Op::put("/cfg", b"v2".to_vec()),
                    Op::put("/release/1", b"r".to_vec()),
                    Op::delete("/old"),
                    Op::get("/cfg"),
                ])
                .otherwise(Op::put("/failed", b"!".to_vec())),
        )
        .await
        .unwrap();
    assert!(response.succeeded);
    assert_eq!(
        response.revision,
        before + 1,
        "a multi-op txn is one revision"
    );
    assert_eq!(response.results.len(), 4);
    match &response.results[0] {
        OpResult::Put { prev: Some(prev) } => assert_eq!(prev.value, b"v1"),
        other => panic!("expected put result with prev, got {other:?}"),
    }
    assert_eq!(response.results[1], OpResult::Put { prev: None });
    match &response.results[2] {
        OpResult::Delete { prev: Some(prev) } => assert_eq!(prev.key, "/old"),
        other => panic!("expected delete result with prev, got {other:?}"),
    }
    match &response.results[3] {
        OpResult::Get(Some(kv)) => {
            assert_eq!(kv.value, b"v2", "a get sees earlier writes of its branch");
            assert_eq!(kv.mod_revision, response.revision);
        }
        other => panic!("expected get result, got {other:?}"),
    }
    for key in ["/cfg", "/release/1"] {
        let kv = store.get(key).await.unwrap().unwrap();
        assert_eq!(
            kv.mod_revision, response.revision,
            "all writes share the txn revision"
        );
    }
    assert_eq!(store.get("/old").await.unwrap(), None);
    assert_eq!(store.get("/failed").await.unwrap(), None);

    // Same guard again: now stale, so only the failure branch applies.
    let response = store
        .txn(
            Txn::new()
                .when(Compare::mod_revision("/cfg", base))
                .then(Op::put("/cfg", b"v3".to_vec()))
                .otherwise(vec![Op::put("/failed", b"!".to_vec()), Op::get("/cfg")]),
        )
        .await
        .unwrap();
    assert!(!response.succeeded);
    assert_eq!(response.revision, before + 2);
    assert_eq!(store.get("/cfg").await.unwrap().unwrap().value, b"v2");
    assert_eq!(store.get("/failed").await.unwrap().unwrap().value, b"!");
    match &response.results[1] {
        OpResult::Get(Some(kv)) => assert_eq!(kv.value, b"v2"),
        other => panic!("expected get result, got {other:?}"),
    }

    // Several guards: all must hold.
    let response = store
        .txn(
            Txn::new()
                .when([Compare::exists("/cfg"), Compare::exists("/nope")])
                .then(Op::put("/both", b"1".to_vec())),
        )
        .await
        .unwrap();
    assert!(!response.succeeded, "one failing guard fails the txn");
    assert_eq!(store.get("/both").await.unwrap(), None);
}

/// Version, Exists, Missing and ModRevision(0) guards.
pub async fn txn_compare_kinds<S: Store>(store: S) {
    async fn holds<S: Store>(store: &S, compare: Compare) -> bool {
        store.txn(Txn::new().when(compare)).await.unwrap().succeeded
    }
    assert!(holds(&store, Compare::missing("/k")).await);
    assert!(!holds(&store, Compare::exists("/k")).await);
    assert!(holds(&store, Compare::mod_revision("/k", 0)).await);
    assert!(holds(&store, Compare::version("/k", 0)).await);

    let first = store.put("/k", b"1".to_vec()).await.unwrap();
    store.put("/k", b"2".to_vec()).await.unwrap();
    assert!(holds(&store, Compare::exists("/k")).await);
    assert!(!holds(&store, Compare::missing("/k")).await);
    assert!(!holds(&store, Compare::mod_revision("/k", 0)).await);
    assert!(!holds(&store, Compare::mod_revision("/k", first)).await);
    assert!(holds(&store, Compare::mod_revision("/k", first + 1)).await);
    assert!(holds(&store, Compare::version("/k", 2)).await);
    assert!(!holds(&store, Compare::version("/k", 1)).await);
}

/// A txn that writes nothing keeps the revision; so does a delete of nothing.
pub async fn txn_reads_do_not_advance_revision<S: Store>(store: S) {
    let revision = store.put("/k", b"v".to_vec()).await.unwrap();
    let response = store
        .txn(
            Txn::new()
                .then(vec![
                    Op::get("/k"),
                    Op::get("/absent"),
                    Op::delete("/absent"),
                ])
                .otherwise(Op::put("/never", b"x".to_vec())),
        )
        .await
        .unwrap();
    assert!(response.succeeded, "a txn without guards succeeds");
    assert_eq!(response.revision, revision);
    assert_eq!(
        response.results,
        vec![
            OpResult::Get(store.get("/k").await.unwrap()),
            OpResult::Get(None),
            OpResult::Delete { prev: None },
        ]
    );
    let response = store
        .txn(Txn::new().then(Op::delete_prefix("/none/")))
        .await
        .unwrap();
    assert_eq!(response.revision, revision);
    assert_eq!(store.current_revision().await.unwrap(), revision);
}

/// DeletePrefix removes exactly the keys under the prefix, in one revision.
pub async fn txn_delete_prefix_removes_only_that_prefix<S: Store>(store: S) {
    for key in ["/m/1/a", "/m/1/b", "/m/10", "/m/1", "/m/2/a"] {
        store.put(key, b"x".to_vec()).await.unwrap();
    }
    let before = store.current_revision().await.unwrap();
    let response = store
        .txn(Txn::new().then(Op::delete_prefix("/m/1/")))
        .await
        .unwrap();
    assert_eq!(response.revision, before + 1);
    match &response.results[0] {
        OpResult::DeletePrefix { deleted } => {
            let keys: Vec<&str> = deleted.iter().map(|kv| kv.key.as_str()).collect();
            assert_eq!(keys, ["/m/1/a", "/m/1/b"]);
        }
        other => panic!("expected delete-prefix result, got {other:?}"),
    }
    let left: Vec<String> = store
        .list("/m/")
        .await
        .unwrap()
        .kvs
        .into_iter()
        .map(|kv| kv.key)
        .collect();
    assert_eq!(left, ["/m/1", "/m/10", "/m/2/a"]);
}

/// Duplicate puts or put+delete of one key are refused before anything runs.
pub async fn txn_invalid_branches_are_rejected_whole<S: Store>(store: S) {
    let start = store.current_revision().await.unwrap();
    let invalid = [
        Txn::new().then(vec![
            Op::put("/a", b"1".to_vec()),
            Op::put("/a", b"2".to_vec()),
        ]),
        Txn::new().then(vec![Op::put("/a", b"1".to_vec()), Op::delete("/a")]),
        Txn::new().otherwise(vec![
            Op::delete_prefix("/a"),
            Op::put("/a/b", b"1".to_vec()),
        ]),
        Txn::new().then(vec![
            Op::put("/ok", b"1".to_vec()),
            Op::put("", b"1".to_vec()),
        ]),
    ];
    for txn in invalid {
        match store.txn(txn.clone()).await {
            Err(StoreError::InvalidRequest(_)) => {}
            other => panic!("{txn:?} must be InvalidRequest, got {other:?}"),
        }
    }
    assert_eq!(
        store.current_revision().await.unwrap(),
        start,
        "rejected txns write nothing"
    );
    assert!(store.list("").await.unwrap().kvs.is_empty());
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Machine {
    id: String,
    cpus: u32,
}

/// put_json/get_json/list_json roundtrip; undecodable values are typed errors.
pub async fn json_helpers_roundtrip_and_report_bad_json<S: Store>(store: S) {
    let web = Machine {
        id: "web".to_string(),
        cpus: 2,
    };
    let db = Machine {
        id: "db".to_string(),
        cpus: 4,
    };
    let web_rev = store.put_json("/machines/web", &web).await.unwrap();
    let db_rev = store.put_json("/machines/db", &db).await.unwrap();
    assert_eq!(
        store.get_json::<Machine>("/machines/web").await.unwrap(),
        Some((web.clone(), web_rev))
    );
    assert_eq!(
        store.get_json::<Machine>("/machines/none").await.unwrap(),
        None
    );
    let listed = store.list_json::<Machine>("/machines/").await.unwrap();
    assert_eq!(
        listed,
        vec![
            ("/machines/db".to_string(), db, db_rev),
            ("/machines/web".to_string(), web, web_rev)
        ]
    );

    store
        .put("/machines/broken", b"not json".to_vec())
        .await
        .unwrap();
    match store.get_json::<Machine>("/machines/broken").await {
        Err(StoreError::Serialization { key, .. }) => assert_eq!(key, "/machines/broken"),
        other => panic!("expected a Serialization error, got {other:?}"),
    }
    assert!(matches!(
        store.list_json::<Machine>("/machines/").await,
        Err(StoreError::Serialization { .. })
    ));
}
