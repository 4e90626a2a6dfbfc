//! The distribution API over real sockets: uploads, digest checks, manifests,
//! tags, catalog, mounts, auth, garbage collection and quotas.

mod common;

use common::TestRegistry;
use reqwest::{Method, StatusCode};
use sha2::{Digest as _, Sha256};

fn digest_of(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

struct Api {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    fn new(reg: &TestRegistry) -> Api {
        Api {
            http: reqwest::Client::new(),
            base: reg.url(),
            token: reg.token.clone(),
        }
    }

    fn req(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let url = if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{path}", self.base)
        };
        self.http
            .request(method, url)
            .basic_auth("anyone", Some(&self.token))
    }

    async fn push_blob(&self, repo: &str, bytes: &[u8]) -> String {
        let digest = digest_of(bytes);
        let response = self
            .req(
                Method::POST,
                &format!("/v2/{repo}/blobs/uploads/?digest={digest}"),
            )
            .body(bytes.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::CREATED,
            "{}",
            response.text().await.unwrap()
        );
        digest
    }

    /// Pushes config + one layer + an image manifest under `tag`; returns the manifest digest.
    async fn push_image(&self, repo: &str, tag: &str, layer: &[u8]) -> String {
        let config = format!(
            r#"{{"architecture":"amd64","os":"linux","layer":{}}}"#,
            layer.len()
        );
        let config_digest = self.push_blob(repo, config.as_bytes()).await;
        let layer_digest = self.push_blob(repo, layer).await;
        let manifest = image_manifest(&config_digest, config.len(), &layer_digest, layer.len());
        let response = self.put_manifest(repo, tag, OCI_MANIFEST, &manifest).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        digest_of(manifest.as_bytes())
    }

    async fn put_manifest(
        &self,
        repo: &str,
        reference: &str,
        media_type: &str,
        body: &str,
    ) -> reqwest::Response {
        self.req(Method::PUT, &format!("/v2/{repo}/manifests/{reference}"))
            .header("content-type", media_type)
            .body(body.to_owned())
            .send()
            .await
            .unwrap()
    }
}

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

fn image_manifest(config: &str, config_size: usize, layer: &str, layer_size: usize) -> String {
    format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config}","size":{config_size}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{layer}","size":{layer_size}}}]}}"#
    )
}

async fn error_code(response: reqwest::Response) -> String {
    let body: serde_json::Value = response.json().await.unwrap();
    body["errors"][0]["code"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn chunked_upload_with_status_and_range_checks() {
    let reg = TestRegistry::start().await;
    let api = Api::new(&reg);
    let base = api.req(Method::GET, "/v2/").send().await.unwrap();
    assert_eq!(base.status(), StatusCode::OK);
    assert_eq!(
        base.headers()["docker-distribution-api-version"],
        "registry/2.0"
    );

    let started = api
        .req(Method::POST, "/v2/app/img/blobs/uploads/")
        .send()
        .await
        .unwrap();
    assert_eq!(started.status(), StatusCode::ACCEPTED);
    let location = started.headers()["location"].to_str().unwrap().to_owned();
    let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let (first, second) = data.split_at(60_000);
    let patched = api
        .req(Method::PATCH, &location)
        .header("content-range", "0-59999")
        .body(first.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), StatusCode::ACCEPTED);
    assert_eq!(patched.headers()["range"], "0-59999");
    // A chunk that does not continue the upload is refused.
    let wrong = api
        .req(Method::PATCH, &location)
        .header("content-range", "10-20")
        .body(vec![0u8; 11])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    let status = api.req(Method::GET, &location).send().await.unwrap();
    assert_eq!(status.status(), StatusCode::NO_CONTENT);
    assert_eq!(status.headers()["range"], "0-59999");
    let digest = digest_of(&data);
    let finished = api
        .req(Method::PUT, &format!("{location}?digest={digest}"))
        .body(second.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(finished.status(), StatusCode::CREATED);
    assert_eq!(finished.headers()["docker-content-digest"], digest.as_str());

    let head = api
        .req(Method::HEAD, &format!("/v2/app/img/blobs/{digest}"))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(head.headers()["content-length"], "100000");
    let body = api
        .req(Method::GET, &format!("/v2/app/img/blobs/{digest}"))
        .send()
        .await
        .unwrap();
    assert_eq!(body.bytes().await.unwrap().to_vec(), data);
    // Another repository does not see the blob until it is mounted.
    let other = api
        .req(Method::HEAD, &format!("/v2/app/other/blobs/{digest}"))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), StatusCode::NOT_FOUND);
    let mount = api
        .req(
            Method::POST,
            &format!("/v2/app/other/blobs/uploads/?mount={digest}&from=app/img"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(mount.status(), StatusCode::CREATED);
    let other = api
        .req(Method::HEAD, &format!("/v2/app/other/blobs/{digest}"))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), StatusCode::OK);

    // Cancelling an upload forgets it.
    let started = api
        .req(Method::POST, "/v2/app/img/blobs/uploads/")
        .send()
        .await
        .unwrap();
    let location = started.headers()["location"].to_str().unwrap().to_owned();
    let cancelled = api.req(Method::DELETE, &location).send().await.unwrap();
    assert_eq!(cancelled.status(), StatusCode::NO_CONTENT);
    let gone = api.req(Method::GET, &location).send().await.unwrap();
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(gone).await, "BLOB_UPLOAD_UNKNOWN");
}

#[tokio::test]
async fn wrong_digests_are_refused_and_nothing_is_stored() {
    let reg = TestRegistry::start().await;
    let api = Api::new(&reg);
    let claimed = digest_of(b"what the client says");
    // Monolithic.
    let response = api
        .req(
            Method::POST,
            &format!("/v2/app/img/blobs/uploads/?digest={claimed}"),
        )
        .body(b"corrupted bytes".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(response).await, "DIGEST_INVALID");
    // Chunked.
    let started = api
        .req(Method::POST, "/v2/app/img/blobs/uploads/")
        .send()
        .await
        .unwrap();
    let location = started.headers()["location"].to_str().unwrap().to_owned();
    api.req(Method::PATCH, &location)
        .body(b"corrupted".to_vec())
        .send()
        .await
        .unwrap();
    let response = api
        .req(Method::PUT, &format!("{location}?digest={claimed}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(response).await, "DIGEST_INVALID");
    let head = api
        .req(Method::HEAD, &format!("/v2/app/img/blobs/{claimed}"))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), StatusCode::NOT_FOUND);
    assert_eq!(reg.blob_files(), 0, "a corrupt upload left a blob on disk");
    // A manifest whose URL digest does not match its content.
    let config = api.push_blob("app/img", b"{}").await;
    let layer = api.push_blob("app/img", b"layer").await;
    let manifest = image_manifest(&config, 2, &layer, 5);
    let response = api
        .put_manifest("app/img", &claimed, OCI_MANIFEST, &manifest)
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(response).await, "DIGEST_INVALID");
    let get = api
        .req(
            Method::GET,
            &format!("/v2/app/img/manifests/{}", digest_of(manifest.as_bytes())),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn manifests_keep_their_media_type_and_need_their_blobs() {
    let reg = TestRegistry::start().await;
    let api = Api::new(&reg);
    // Missing blobs are refused.
    let missing = digest_of(b"never pushed");
    let config = api.push_blob("app/img", b"{\"os\":\"linux\"}").await;
    let manifest = image_manifest(&config, 14, &missing, 12);
    let response = api
        .put_manifest("app/img", "v1", OCI_MANIFEST, &manifest)
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(response).await, "MANIFEST_BLOB_UNKNOWN");

    // A Docker schema 2 manifest comes back as Docker schema 2.
    let layer = api.push_blob("app/img", b"layer-bytes").await;
    let docker = image_manifest(&config, 14, &layer, 11).replace(OCI_MANIFEST, DOCKER_MANIFEST);
    let response = api
        .put_manifest("app/img", "docker", DOCKER_MANIFEST, &docker)
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let child = digest_of(docker.as_bytes());
    let got = api
        .req(Method::GET, "/v2/app/img/manifests/docker")
        .header("accept", DOCKER_MANIFEST)
        .send()
        .await
        .unwrap();
    assert_eq!(got.headers()["content-type"], DOCKER_MANIFEST);
    assert_eq!(got.headers()["docker-content-digest"], child.as_str());
    assert_eq!(got.text().await.unwrap(), docker);
    // Refused when the client does not accept it.
    let got = api
        .req(Method::GET, "/v2/app/img/manifests/docker")
        .header("accept", OCI_MANIFEST)
        .send()
        .await
        .unwrap();
    assert_eq!(got.status(), StatusCode::NOT_FOUND);

    // An index over it, by tag; its children must exist.
    let index = format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[{{"mediaType":"{DOCKER_MANIFEST}","digest":"{child}","size":{},"platform":{{"architecture":"amd64","os":"linux"}}}}]}}"#,
        docker.len()
    );
    let response = api
        .put_manifest("app/img", "multi", OCI_INDEX, &index)
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let bad_index = index.replace(&child, &missing);
    let response = api
        .put_manifest("app/img", "bad", OCI_INDEX, &bad_index)
        .await;
    assert_eq!(error_code(response).await, "MANIFEST_BLOB_UNKNOWN");
    let head = api
        .req(Method::HEAD, "/v2/app/img/manifests/multi")
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(head.headers()["content-type"], OCI_INDEX);
    assert_eq!(
        head.headers()["content-length"],
        index.len().to_string().as_str()
    );

    // Tags with pagination, and the catalog.
    for tag in ["a", "b", "c"] {
        api.put_manifest("app/img", tag, DOCKER_MANIFEST, &docker)
            .await;
    }
    let page = api
        .req(Method::GET, "/v2/app/img/tags/list?n=2")
        .send()
        .await
        .unwrap();
    assert!(page.headers()["link"].to_str().unwrap().contains("last=b"));
    let page: serde_json::Value = page.json().await.unwrap();
    assert_eq!(page["tags"], serde_json::json!(["a", "b"]));
    let rest: serde_json::Value = api
        .req(Method::GET, "/v2/app/img/tags/list?n=10&last=b")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(rest["tags"], serde_json::json!(["c", "docker", "multi"]));
    api.push_image("other", "v1", b"x").await;
    let catalog: serde_json::Value = api
        .req(Method::GET, "/v2/_catalog")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        catalog["repositories"],
        serde_json::json!(["app/img", "other"])
    );

    // Deleting by digest removes the manifest and its tags.
    let deleted = api
        .req(Method::DELETE, &format!("/v2/app/img/manifests/{child}"))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::ACCEPTED);
    let gone = api
        .req(Method::GET, "/v2/app/img/manifests/a")
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(gone).await, "MANIFEST_UNKNOWN");
}

#[tokio::test]
async fn unauthenticated_and_out_of_scope_requests_are_refused() {
    let reg = TestRegistry::start().await;
    let http = reqwest::Client::new();
    let digest = digest_of(b"data");
    let push = http
        .post(format!(
            "{}/v2/app/img/blobs/uploads/?digest={digest}",
            reg.url()
        ))
        .body(b"data".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(push.status(), StatusCode::UNAUTHORIZED);
    let challenge = push.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        challenge.starts_with(&format!("Bearer realm=\"{}/v2/token\"", reg.url())),
        "{challenge}"
    );
    assert!(
        challenge.contains("scope=\"repository:app/img:pull,push\""),
        "{challenge}"
    );
    assert_eq!(error_code(push).await, "UNAUTHORIZED");
    let pull = http
        .get(format!("{}/v2/app/img/manifests/v1", reg.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(pull.status(), StatusCode::UNAUTHORIZED);
    let wrong = http
        .get(format!("{}/v2/", reg.url()))
        .basic_auth("x", Some("wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(reg.blob_files(), 0);
    // The token service refuses anonymous callers, and grants what the platform token asks.
    let anonymous = http
        .get(format!(
            "{}/v2/token?scope=repository:app/img:pull",
            reg.url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let answer: serde_json::Value = http
        .get(format!(
            "{}/v2/token?service=hangar&scope=repository:app/img:pull,push",
            reg.url()
        ))
        .basic_auth("x", Some(&reg.token))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = answer["token"].as_str().unwrap();
    assert_eq!(answer["access_token"], answer["token"]);
    assert!(answer["expires_in"].as_u64().unwrap() > 0);
    let allowed = http
        .post(format!(
            "{}/v2/app/img/blobs/uploads/?digest={digest}",
            reg.url()
        ))
        .bearer_auth(token)
        .body(b"data".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(allowed.status(), StatusCode::CREATED);
    let other_repo = http
        .post(format!(
            "{}/v2/app/other/blobs/uploads/?digest={digest}",
            reg.url()
        ))
        .bearer_auth(token)
        .body(b"data".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(other_repo.status(), StatusCode::UNAUTHORIZED);
    let bearer_platform = http
        .get(format!("{}/v2/", reg.url()))
        .bearer_auth(&reg.token)
        .send()
        .await
        .unwrap();
    assert_eq!(bearer_platform.status(), StatusCode::OK);
}

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
