//! Pulling over the OCI distribution API: from a small in-test registry that demands a
//! bearer token (to exercise the challenge flow and error mapping), and from a real
//! registry (Debian's `docker-registry`) when it is installed.

mod common;

use std::net::SocketAddr;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use axum::http::{header, StatusCode};
use common::distribution::{tag_index, TestRegistry};
use common::*;
use hangar_image::{ImageError, ImageStore};

#[tokio::test]
async fn pulls_through_a_token_challenge_and_caches() {
    let dir = tempfile::tempdir().unwrap();
    let (layout, digest) = sample_layout(dir.path());
    tag_index(&layout, &digest);
    let registry = TestRegistry::start(layout).await;
    let store = ImageStore::open(&dir.path().join("store")).unwrap();
    let reference = format!("{}/team/app:v1", registry.address);

    let image = store.resolve(&reference).await.unwrap();
    assert_eq!(image.digest, digest);
    assert_eq!(image.registry, registry.address.to_string());
    assert_eq!(image.repository, "team/app");
    assert_eq!(image.tag.as_deref(), Some("v1"));
    assert_eq!(image.config, sample_config());
    assert!(image.layers[0].join("bin/busybox").is_file());
    assert_eq!(mode_of(&image.layers[0].join("usr/local/bin/suid")), 0o4755);

    // Cached: neither resolve nor cached() touches the registry again.
    let served = registry.requests();
    assert_eq!(store.resolve(&reference).await.unwrap(), image);
    assert_eq!(store.cached(&reference), Some(image.clone()));
    assert_eq!(
        registry.requests(),
        served,
        "a cached image needs no request"
    );

    // By digest and through an index: the layer directory is reused, not unpacked again.
    let inode = std::fs::metadata(&image.layers[0]).unwrap().ino();
    let pinned = store
        .resolve(&format!("{}/team/app@{digest}", registry.address))
        .await
        .unwrap();
    assert_eq!(pinned.digest, digest);
    assert_eq!(pinned.tag, None);
    let multi = store
        .resolve(&format!("{}/team/app:multi", registry.address))
        .await
        .unwrap();
    assert_eq!(
        multi.digest, digest,
        "the platform manifest behind the index"
    );
    assert_eq!(pinned.layers, image.layers);
    assert_eq!(multi.layers, image.layers);
    assert_eq!(std::fs::metadata(&multi.layers[0]).unwrap().ino(), inode);

    // pull() goes back to the registry even though the tag is cached.
    let before = registry.requests();
    assert_eq!(store.pull(&reference).await.unwrap(), image);
    assert!(registry.requests() > before);
}

#[tokio::test]
async fn registry_failures_map_to_client_and_server_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (layout, _) = sample_layout(dir.path());
    let registry = TestRegistry::start(layout).await;
    let store = ImageStore::open(&dir.path().join("store")).unwrap();
    let at = registry.address;

    let err = store
        .resolve(&format!("{at}/team/app:nosuchtag"))
        .await
        .unwrap_err();
    assert!(matches!(err, ImageError::NotFound { .. }), "{err}");
    assert!(err.is_client_error());
    assert!(err.to_string().contains("MANIFEST_UNKNOWN"), "{err}");

    let err = store
        .resolve(&format!("{at}/nobody/here:v1"))
        .await
        .unwrap_err();
    assert!(matches!(err, ImageError::NotFound { .. }), "{err}");

    let err = store
        .resolve(&format!("{at}/denied/app:v1"))
        .await
        .unwrap_err();
    assert!(matches!(err, ImageError::Unauthorized { .. }), "{err}");
    assert!(err.is_client_error());
    assert!(
        err.to_string().contains("HANGAR_REGISTRY_AUTH"),
        "says what to do: {err}"
    );

    let err = store
        .resolve(&format!("{at}/team/corrupt:v1"))
        .await
        .unwrap_err();
    assert!(matches!(err, ImageError::DigestMismatch { .. }), "{err}");
    assert!(!err.is_client_error());
    assert!(entries(&dir.path().join("store/layers/sha256")).is_empty());
    assert!(entries(&dir.path().join("store/tmp")).is_empty());

    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let err = store
        .resolve(&format!("{closed}/team/app:v1"))
        .await
        .unwrap_err();
    assert!(matches!(err, ImageError::Unreachable { .. }), "{err}");
    assert!(!err.is_client_error());
    assert!(
        err.to_string().contains("refused"),
        "names the cause: {err}"
    );
}

/// A `docker-registry` process, killed when dropped.
struct RealRegistry {
    child: Child,
    address: SocketAddr,
}

impl Drop for RealRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const REAL_REGISTRY: &str = "/usr/bin/docker-registry";

async fn start_real_registry(dir: &Path) -> RealRegistry {
    let address = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let config = dir.join("registry.yml");
    std::fs::write(
        &config,
        format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {address}\n",
            dir.join("registry-data").display()
        ),
    )
    .unwrap();
    let log = std::fs::File::create(dir.join("registry.log")).unwrap();
    let child = Command::new(REAL_REGISTRY)
        .arg("serve")
        .arg(&config)
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let registry = RealRegistry { child, address };
    let client = http_client();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let ready = client
            .get(format!("http://{address}/v2/"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        if ready {
            return registry;
        }
        assert!(
            Instant::now() < deadline,
            "docker-registry did not answer within 20 s; log: {}",
            std::fs::read_to_string(dir.join("registry.log")).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

/// Pushes the image `digest` of `layout` as `repository:tag` with monolithic blob uploads.
async fn push(base: &str, repository: &str, tag: &str, layout: &Path, digest: &str) {
    let client = http_client();
    let manifest_bytes = std::fs::read(blob_path(layout, digest)).unwrap();
    let manifest: serde_json::Value = serde_json::from_slice(&manifest_bytes).unwrap();
    let mut blobs = vec![manifest["config"]["digest"].as_str().unwrap().to_owned()];
    for layer in manifest["layers"].as_array().unwrap() {
        blobs.push(layer["digest"].as_str().unwrap().to_owned());
    }
    for blob in blobs {
        let started = client
            .post(format!("{base}/v2/{repository}/blobs/uploads/"))
            .send()
            .await
            .unwrap();
        assert_eq!(started.status(), StatusCode::ACCEPTED);
        let location = started.headers()[header::LOCATION]
            .to_str()
            .unwrap()
            .to_owned();
        let location = if location.starts_with('/') {
            format!("{base}{location}")
        } else {
            location
        };
        let separator = if location.contains('?') { '&' } else { '?' };
        let put = client
            .put(format!("{location}{separator}digest={blob}"))
            .header(header::CONTENT_TYPE, "application/octet-stream")
            .body(std::fs::read(blob_path(layout, &blob)).unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(put.status(), StatusCode::CREATED, "upload of {blob}");
    }
    let put = client
        .put(format!("{base}/v2/{repository}/manifests/{tag}"))
        .header(
            header::CONTENT_TYPE,
            "application/vnd.oci.image.manifest.v1+json",
        )
        .body(manifest_bytes)
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), StatusCode::CREATED, "manifest upload");
}

#[tokio::test]
async fn resolves_from_a_real_registry() {
    if !Path::new(REAL_REGISTRY).exists() {
        skip(
            "pull from a real registry",
            "docker-registry is not installed (apt-get install docker-registry)",
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (layout, digest) = sample_layout(dir.path());
    let registry = start_real_registry(dir.path()).await;
    let base = format!("http://{}", registry.address);
    push(&base, "hangar/busybox", "v1", &layout, &digest).await;

    let store = ImageStore::open(&dir.path().join("store")).unwrap();
    let image = store
        .resolve(&format!("{}/hangar/busybox:v1", registry.address))
        .await
        .unwrap();
    assert_eq!(image.digest, digest);
    assert_eq!(image.config, sample_config());
    assert!(image.layers[0].join("bin/busybox").is_file());
    assert_eq!(
        std::fs::read_link(image.layers[0].join("bin/sh")).unwrap(),
        Path::new("busybox")
    );

    let err = store
        .resolve(&format!("{}/hangar/busybox:missing", registry.address))
        .await
        .unwrap_err();
    assert!(matches!(err, ImageError::NotFound { .. }), "{err}");
    assert!(err.is_client_error());
}
