//! Resumable blob pulls (Range GETs, through curl), the OCI 1.1 referrers
//! API, and pushes refused for apps that do not exist (through docker).

mod common;

use std::collections::HashSet;
use std::sync::Arc;

use common::api::*;
use common::{busybox_layout, have_tool, run, try_run, TestRegistry};
use hangar_registry::AppDirectory;
use reqwest::{Method, StatusCode};

/// `GET path` through curl with the platform token and the extra arguments,
/// the body written to `out`; returns the status line and headers.
fn curl(reg: &TestRegistry, path: &str, extra: &[&str], out: &std::path::Path) -> String {
    let url = format!("{}{path}", reg.url());
    let auth = format!("hangar:{}", reg.token);
    let mut args = vec!["-sS", "-u", auth.as_str(), "-D", "-", "-o"];
    let out = out.display().to_string();
    args.push(&out);
    args.extend_from_slice(extra);
    args.push(&url);
    run("curl", &args)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blob_range_gets_resume_a_pull_and_refuse_what_is_past_the_end() {
    if !have_tool("curl", "blob_range_gets", "curl") {
        return;
    }
    let reg = TestRegistry::start().await;
    let api = Api::new(&reg);
    let blob: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 253) as u8).collect();
    let digest = api.push_blob("app/img", &blob).await;
    let path = format!("/v2/app/img/blobs/{digest}");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("blob");

    // An interrupted download: the first 100 000 bytes are on disk.
    std::fs::write(&file, &blob[..100_000]).unwrap();
    let head = curl(&reg, &path, &["-C", "-"], &file);
    assert!(head.starts_with("HTTP/1.1 206"), "{head}");
    assert!(
        head.to_lowercase()
            .contains("content-range: bytes 100000-299999/300000"),
        "{head}"
    );
    assert_eq!(std::fs::read(&file).unwrap(), blob, "resumed download");

    let part = dir.path().join("part");
    let head = curl(&reg, &path, &["-r", "10-19"], &part);
    assert!(head.starts_with("HTTP/1.1 206"), "{head}");
    assert_eq!(std::fs::read(&part).unwrap(), &blob[10..20]);
    let head = curl(&reg, &path, &["-r", "-5"], &part);
    assert!(head.starts_with("HTTP/1.1 206"), "{head}");
    assert_eq!(std::fs::read(&part).unwrap(), &blob[blob.len() - 5..]);

    let head = curl(&reg, &path, &["-r", "300000-"], &part);
    assert!(head.starts_with("HTTP/1.1 416"), "{head}");
    assert!(
        head.to_lowercase()
            .contains("content-range: bytes */300000"),
        "{head}"
    );

    let head = curl(&reg, &path, &[], &part);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.to_lowercase().contains("accept-ranges: bytes"),
        "{head}"
    );
    assert_eq!(std::fs::read(&part).unwrap(), blob);
}

/// An artifact manifest referring to `subject`.
fn referrer(config: &str, artifact_type: &str, subject: &str, subject_size: usize) -> String {
    format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","artifactType":"{artifact_type}","config":{{"mediaType":"application/vnd.oci.empty.v1+json","digest":"{config}","size":2}},"layers":[{{"mediaType":"application/vnd.oci.empty.v1+json","digest":"{config}","size":2}}],"subject":{{"mediaType":"{OCI_MANIFEST}","digest":"{subject}","size":{subject_size}}},"annotations":{{"org.example.kind":"{artifact_type}"}}}}"#
    )
}

#[tokio::test]
async fn referrers_list_the_manifests_whose_subject_is_a_digest() {
    let reg = TestRegistry::start().await;
    let api = Api::new(&reg);
    let subject = api.push_image("app/img", "v1", b"the image layer").await;
    let subject_size = api
        .req(Method::HEAD, &format!("/v2/app/img/manifests/{subject}"))
        .send()
        .await
        .unwrap()
        .content_length()
        .unwrap() as usize;
    let empty = api.push_blob("app/img", b"{}").await;

    let path = format!("/v2/app/img/referrers/{subject}");
    let before: serde_json::Value = api
        .req(Method::GET, &path)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(before["manifests"], serde_json::json!([]), "{before}");

    let signature = referrer(
        &empty,
        "application/vnd.example.signature",
        &subject,
        subject_size,
    );
    let sbom = referrer(
        &empty,
        "application/vnd.example.sbom",
        &subject,
        subject_size,
    );
    let mut pushed = Vec::new();
    for manifest in [&signature, &sbom] {
        let digest = digest_of(manifest.as_bytes());
        let response = api
            .put_manifest("app/img", &digest, OCI_MANIFEST, manifest)
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        assert_eq!(response.headers()["oci-subject"], subject.as_str());
        pushed.push(digest);
    }

    let response = api.req(Method::GET, &path).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], OCI_INDEX);
    let index: serde_json::Value = response.json().await.unwrap();
    assert_eq!(index["schemaVersion"], 2);
    assert_eq!(index["mediaType"], OCI_INDEX);
    let listed: HashSet<&str> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["digest"].as_str().unwrap())
        .collect();
    assert_eq!(listed, pushed.iter().map(String::as_str).collect());

    let filtered = api
        .req(
            Method::GET,
            &format!("{path}?artifactType=application/vnd.example.sbom"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(filtered.headers()["oci-filters-applied"], "artifactType");
    let filtered: serde_json::Value = filtered.json().await.unwrap();
    let only = filtered["manifests"].as_array().unwrap();
    assert_eq!(only.len(), 1, "{filtered}");
    assert_eq!(only[0]["digest"], pushed[1].as_str());
    assert_eq!(only[0]["artifactType"], "application/vnd.example.sbom");
    assert_eq!(only[0]["size"], sbom.len());
    assert_eq!(
        only[0]["annotations"]["org.example.kind"],
        "application/vnd.example.sbom"
    );

    // Another repository's referrers are its own.
    let elsewhere: serde_json::Value = api
        .req(Method::GET, &format!("/v2/app/other/referrers/{subject}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(elsewhere["manifests"], serde_json::json!([]));
}

/// The apps the test's control plane "has".
struct KnownApps(HashSet<String>);

#[async_trait::async_trait]
impl AppDirectory for KnownApps {
    async fn app_exists(&self, app: &str) -> Result<bool, String> {
        Ok(self.0.contains(app))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushes_to_an_app_that_does_not_exist_are_refused() {
    let test = "pushes_to_an_app_that_does_not_exist_are_refused";
    let reg = TestRegistry::start().await;
    reg.registry
        .check_apps_with(Arc::new(KnownApps(HashSet::from(["known".to_owned()]))));
    let api = Api::new(&reg);
    let refused = api
        .req(Method::POST, "/v2/ghost/img/blobs/uploads/")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["errors"][0]["code"], "DENIED");
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("hangar apps create ghost"), "{message}");
    api.push_image("known/img", "v1", b"layer").await;

    if !have_tool("docker", test, "docker.io") || !try_run("docker", &["info"]).0 {
        eprintln!("SKIPPED the docker half of {test}: no usable Docker");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let Some(_) = busybox_layout(dir.path(), "apps") else {
        return;
    };
    let tarball = dir.path().join("rootfs.tar");
    let rootfs = dir.path().join("rootfs").display().to_string();
    run(
        "tar",
        &["-C", &rootfs, "-cf", &tarball.display().to_string(), "."],
    );
    let ghost = format!("{}/ghost:v1", reg.host());
    let known = format!("{}/known/web:v1", reg.host());
    run(
        "docker",
        &["import", &tarball.display().to_string(), &ghost],
    );
    run("docker", &["tag", &ghost, &known]);
    let config = tempfile::tempdir().unwrap();
    let docker = |args: &[&str]| {
        let output = std::process::Command::new("docker")
            .env("DOCKER_CONFIG", config.path())
            .args(args)
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        (output.status.success(), text)
    };
    let (logged_in, output) = docker(&["login", &reg.host(), "-u", "hangar", "-p", &reg.token]);
    assert!(logged_in, "{output}");
    let (pushed_ghost, ghost_output) = docker(&["push", &ghost]);
    let (pushed_known, known_output) = docker(&["push", &known]);
    let _ = try_run("docker", &["rmi", &ghost, &known]);
    assert!(
        !pushed_ghost,
        "push to a missing app succeeded: {ghost_output}"
    );
    assert!(
        ghost_output.contains("create the app first"),
        "docker shows why: {ghost_output}"
    );
    assert!(
        pushed_known,
        "push to an existing app failed: {known_output}"
    );
}
