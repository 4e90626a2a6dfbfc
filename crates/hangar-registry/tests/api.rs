//! The distribution API over real sockets: uploads, digest checks, manifests,
//! tags, catalog, mounts and auth.

mod common;

use common::api::*;
use common::TestRegistry;
use reqwest::{Method, StatusCode};

#[tokio::test]
async fn chunked_upload_with_status_and_range_checks() {
    let reg = TestRegistry::start().await;
    let api = Api::new(&reg);
    let base = api.send(Method::GET, "/v2/").await;
    assert_eq!(base.status(), StatusCode::OK);
    assert_eq!(
        base.headers()["docker-distribution-api-version"],
        "registry/2.0"
    );

    let location = api.start_upload("app/img").await;
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
    let status = api.send(Method::GET, &location).await;
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
        .send(Method::HEAD, &format!("/v2/app/img/blobs/{digest}"))
        .await;
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(head.headers()["content-length"], "100000");
    let body = api
        .send(Method::GET, &format!("/v2/app/img/blobs/{digest}"))
        .await;
    assert_eq!(body.bytes().await.unwrap().to_vec(), data);
    // Another repository does not see the blob until it is mounted.
    let other = api
        .send(Method::HEAD, &format!("/v2/app/other/blobs/{digest}"))
        .await;
    assert_eq!(other.status(), StatusCode::NOT_FOUND);
    let mount = api
        .send(
            Method::POST,
            &format!("/v2/app/other/blobs/uploads/?mount={digest}&from=app/img"),
        )
        .await;
    assert_eq!(mount.status(), StatusCode::CREATED);
    let other = api
        .send(Method::HEAD, &format!("/v2/app/other/blobs/{digest}"))
        .await;
    assert_eq!(other.status(), StatusCode::OK);

    // Cancelling an upload forgets it.
    let location = api.start_upload("app/img").await;
    let cancelled = api.send(Method::DELETE, &location).await;
    assert_eq!(cancelled.status(), StatusCode::NO_CONTENT);
    let gone = api.send(Method::GET, &location).await;
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
    let location = api.start_upload("app/img").await;
    api.req(Method::PATCH, &location)
        .body(b"corrupted".to_vec())
        .send()
        .await
        .unwrap();
    let response = api
        .send(Method::PUT, &format!("{location}?digest={claimed}"))
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(response).await, "DIGEST_INVALID");
    let head = api
        .send(Method::HEAD, &format!("/v2/app/img/blobs/{claimed}"))
        .await;
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
    let head = api.send(Method::HEAD, "/v2/app/img/manifests/multi").await;
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
    let page = api.send(Method::GET, "/v2/app/img/tags/list?n=2").await;
    assert!(page.headers()["link"].to_str().unwrap().contains("last=b"));
    let page: serde_json::Value = page.json().await.unwrap();
    assert_eq!(page["tags"], serde_json::json!(["a", "b"]));
    let rest = api.get_json("/v2/app/img/tags/list?n=10&last=b").await;
    assert_eq!(rest["tags"], serde_json::json!(["c", "docker", "multi"]));
    api.push_image("other", "v1", b"x").await;
    let catalog = api.get_json("/v2/_catalog").await;
    assert_eq!(
        catalog["repositories"],
        serde_json::json!(["app/img", "other"])
    );

    // Deleting by digest removes the manifest and its tags.
    let deleted = api
        .send(Method::DELETE, &format!("/v2/app/img/manifests/{child}"))
        .await;
    assert_eq!(deleted.status(), StatusCode::ACCEPTED);
    let gone = api.send(Method::GET, "/v2/app/img/manifests/a").await;
    assert_eq!(error_code(gone).await, "MANIFEST_UNKNOWN");
}

#[tokio::test]
async fn unauthenticated_and_out_of_scope_requests_are_refused() {
    let reg = TestRegistry::start().await;
    let http = reqwest::Client::new();
    let digest = digest_of(b"data");
    // A monolithic upload of b"data" to `repo`, with a bearer token if any.
    let push_data = |repo: &str, bearer: Option<&str>| {
        let url = format!("{}/v2/{repo}/blobs/uploads/?digest={digest}", reg.url());
        let request = http.post(url).body(b"data".to_vec());
        let request = match bearer {
            Some(token) => request.bearer_auth(token),
            None => request,
        };
        async move { request.send().await.unwrap() }
    };
    let push = push_data("app/img", None).await;
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
    let allowed = push_data("app/img", Some(token)).await;
    assert_eq!(allowed.status(), StatusCode::CREATED);
    let other_repo = push_data("app/other", Some(token)).await;
    assert_eq!(other_repo.status(), StatusCode::UNAUTHORIZED);
    let bearer_platform = http
        .get(format!("{}/v2/", reg.url()))
        .bearer_auth(&reg.token)
        .send()
        .await
        .unwrap();
    assert_eq!(bearer_platform.status(), StatusCode::OK);
}
