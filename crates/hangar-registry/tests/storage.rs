//! Garbage collection and per-app quotas over real sockets and a real store.

mod common;

use common::api::*;
use common::TestRegistry;
use reqwest::{Method, StatusCode};

#[tokio::test]
async fn garbage_collection_frees_unreferenced_blobs_only() {
    let reg = TestRegistry::start().await;
    let api = Api::new(&reg);
    let kept = api.push_image("app/img", "v1", b"layer kept").await;
    let index_child = api
        .push_image("app/img", "child", b"layer of index child")
        .await;
    let child_manifest = api
        .req(Method::GET, "/v2/app/img/manifests/child")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let index = format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[{{"mediaType":"{OCI_MANIFEST}","digest":"{index_child}","size":{}}}]}}"#,
        child_manifest.len()
    );
    assert_eq!(
        api.put_manifest("app/img", "multi", OCI_INDEX, &index)
            .await
            .status(),
        StatusCode::CREATED
    );
    // Only the index references the child now.
    api.req(Method::DELETE, "/v2/app/img/manifests/child")
        .send()
        .await
        .unwrap();
    let dropped = api.push_image("app/img", "v2", b"layer dropped").await;
    let orphan = api
        .push_blob("app/img", b"uploaded, never referenced")
        .await;
    api.req(Method::DELETE, &format!("/v2/app/img/manifests/{dropped}"))
        .send()
        .await
        .unwrap();
    let before = reg.blob_files();

    // Within the grace period nothing goes.
    let report = reg.registry.collect_garbage().await.unwrap();
    assert_eq!(report.blobs_deleted, 0);
    // With no grace: the dropped manifest, its layer and the orphan go
    // (the config blobs differ per layer size, the dropped image's too).
    let report = reg
        .registry
        .collect_garbage_with_grace(std::time::Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(report.blobs_deleted, 4, "{report:?}");
    assert_eq!(reg.blob_files(), before - 4);
    for gone in [&dropped, &orphan] {
        let head = api
            .req(Method::HEAD, &format!("/v2/app/img/blobs/{gone}"))
            .send()
            .await
            .unwrap();
        assert_eq!(head.status(), StatusCode::NOT_FOUND, "{gone} survived");
    }
    // Everything still referenced pulls, including the index's child.
    for (reference, layer) in [
        ("v1", &b"layer kept"[..]),
        (index_child.as_str(), b"layer of index child"),
    ] {
        let manifest: serde_json::Value = api
            .req(Method::GET, &format!("/v2/app/img/manifests/{reference}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for blob in [
            &manifest["config"]["digest"],
            &manifest["layers"][0]["digest"],
        ] {
            let got = api
                .req(
                    Method::GET,
                    &format!("/v2/app/img/blobs/{}", blob.as_str().unwrap()),
                )
                .send()
                .await
                .unwrap();
            assert_eq!(got.status(), StatusCode::OK);
        }
        let layer_digest = manifest["layers"][0]["digest"].as_str().unwrap();
        assert_eq!(layer_digest, digest_of(layer));
    }
    assert_eq!(
        api.req(Method::GET, &format!("/v2/app/img/manifests/{kept}"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        api.req(Method::GET, "/v2/app/img/manifests/multi")
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn quota_exceeded_is_refused_with_its_limit() {
    let reg = TestRegistry::start_with(|c| c.default_quota_bytes = 50_000).await;
    let api = Api::new(&reg);
    api.push_image("small/img", "v1", &[1u8; 10_000]).await;
    let big = vec![2u8; 60_000];
    let response = api
        .req(
            Method::POST,
            &format!("/v2/small/img/blobs/uploads/?digest={}", digest_of(&big)),
        )
        .body(big.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["errors"][0]["code"], "DENIED");
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("quota") && message.contains("50000"),
        "{message}"
    );
    // Another repository of the same app shares the quota; another app does not.
    let chunk = vec![3u8; 45_000];
    let started = api
        .req(Method::POST, "/v2/small/other/blobs/uploads/")
        .send()
        .await
        .unwrap();
    let location = started.headers()["location"].to_str().unwrap().to_owned();
    let response = api
        .req(
            Method::PUT,
            &format!("{location}?digest={}", digest_of(&chunk)),
        )
        .body(chunk.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    reg.registry.set_quota("bigger", 100_000).await.unwrap();
    api.push_image("bigger", "v1", &big).await;
    reg.registry.set_quota("small", 200_000).await.unwrap();
    api.push_image("small/img", "v2", &big).await;
    assert!(reg.registry.usage("small").await.unwrap() > 60_000);
}
