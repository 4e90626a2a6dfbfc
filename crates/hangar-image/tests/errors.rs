//! Bad references and bad content: each fails with the right error, and nothing half-done
//! is left in the store.

mod common;

use std::fs;

use common::*;
use hangar_image::{ImageError, ImageStore};

#[tokio::test]
async fn a_tampered_layer_blob_is_a_digest_mismatch() {
    let dir = tempfile::tempdir().unwrap();
    let (layout, digest) = sample_layout(dir.path());
    let manifest = read_json(&layout, &digest);
    let layer = blob_path(&layout, manifest["layers"][0]["digest"].as_str().unwrap());
    let mut bytes = fs::read(&layer).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    fs::write(&layer, bytes).unwrap();

    let store = ImageStore::open(&dir.path().join("store")).unwrap();
    let reference = format!("oci:{}:v1", layout.display());
    let err = store.resolve(&reference).await.unwrap_err();
    assert!(matches!(err, ImageError::DigestMismatch { .. }), "{err}");
    assert!(!err.is_client_error());
    assert!(
        entries(&dir.path().join("store/layers/sha256")).is_empty(),
        "no layer kept"
    );
    assert!(
        entries(&dir.path().join("store/tmp")).is_empty(),
        "no scratch kept"
    );
    assert!(store.cached(&reference).is_none());
}

#[tokio::test]
async fn a_tampered_config_blob_is_a_digest_mismatch() {
    let dir = tempfile::tempdir().unwrap();
    let (layout, digest) = sample_layout(dir.path());
    let manifest = read_json(&layout, &digest);
    let config = blob_path(&layout, manifest["config"]["digest"].as_str().unwrap());
    let text = fs::read_to_string(&config)
        .unwrap()
        .replace("hello", "HELLO");
    fs::write(&config, text).unwrap();

    let store = ImageStore::open(&dir.path().join("store")).unwrap();
    let err = store
        .resolve(&format!("oci:{}:v1", layout.display()))
        .await
        .unwrap_err();
    assert!(matches!(err, ImageError::DigestMismatch { .. }), "{err}");
}

#[tokio::test]
async fn a_wrong_diff_id_is_a_digest_mismatch() {
    let dir = tempfile::tempdir().unwrap();
    let writer = hangar_image::layout::LayoutWriter::create(&dir.path().join("layout")).unwrap();
    let tar = layer_tar(&[Entry::File("a", b"a", 0o644)]);
    let mut layer = writer.add_layer_from_tar(&tar, true).unwrap();
    layer.diff_id = format!("sha256:{}", "1".repeat(64));
    writer.add_image(&[layer], &sample_config(), "t").unwrap();

    let store = ImageStore::open(&dir.path().join("store")).unwrap();
    let err = store
        .resolve(&format!("oci:{}:t", dir.path().join("layout").display()))
        .await
        .unwrap_err();
    assert!(matches!(err, ImageError::DigestMismatch { .. }), "{err}");
    assert!(err.to_string().contains("diff_id"), "{err}");
    assert!(entries(&dir.path().join("store/layers/sha256")).is_empty());
}

#[tokio::test]
async fn missing_paths_are_not_found() {
    let dir = tempfile::tempdir().unwrap();
    let store = ImageStore::open(&dir.path().join("store")).unwrap();
    let missing = dir.path().join("nope");
    for reference in [
        format!("oci:{}", missing.display()),
        format!("oci:{}:v1", missing.display()),
        format!("oci-archive:{}", missing.display()),
        format!("docker-archive:{}", missing.display()),
    ] {
        let err = store.resolve(&reference).await.unwrap_err();
        assert!(
            matches!(err, ImageError::NotFound { .. }),
            "{reference}: {err}"
        );
        assert!(err.is_client_error());
        assert!(err.to_string().contains("does not exist"), "{err}");
    }
}

#[tokio::test]
async fn things_that_are_not_images_are_not_found() {
    let dir = tempfile::tempdir().unwrap();
    let store = ImageStore::open(&dir.path().join("store")).unwrap();
    let empty = dir.path().join("empty");
    fs::create_dir(&empty).unwrap();
    let err = store
        .resolve(&format!("oci:{}", empty.display()))
        .await
        .unwrap_err();
    assert!(matches!(err, ImageError::NotFound { .. }), "{err}");
    assert!(err.to_string().contains("index.json"), "{err}");

    let junk = dir.path().join("junk.tar");
    fs::write(&junk, b"this is not a tar archive at all").unwrap();
    let err = store
        .resolve(&format!("docker-archive:{}", junk.display()))
        .await
        .unwrap_err();
    assert!(err.is_client_error(), "{err}");

    let (layout, _) = sample_layout(dir.path());
    let err = store
        .resolve(&format!("oci:{}:nosuchtag", layout.display()))
        .await
        .unwrap_err();
    assert!(matches!(err, ImageError::NotFound { .. }), "{err}");
    assert!(
        err.to_string().contains("v1"),
        "names the tags there are: {err}"
    );
}

#[tokio::test]
async fn bad_syntax_is_an_invalid_reference() {
    let dir = tempfile::tempdir().unwrap();
    let store = ImageStore::open(&dir.path().join("store")).unwrap();
    for reference in [
        "",
        "UPPER/case",
        "nginx:",
        "nginx@sha256:1234",
        "a/b@md5:00",
        "bad host.example/x",
        "oci:",
        "registry.example:0/x",
    ] {
        let err = store.resolve(reference).await.unwrap_err();
        assert!(
            matches!(err, ImageError::InvalidReference { .. }),
            "{reference:?}: {err}"
        );
        assert!(err.is_client_error());
        assert!(store.cached(reference).is_none());
    }
}

#[tokio::test]
async fn a_layer_that_is_not_a_tar_is_an_invalid_layer() {
    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("layout");
    let garbage = vec![0x5au8; 4096];
    layered_image(&layout, &[garbage], true, "t");
    let store = ImageStore::open(&dir.path().join("store")).unwrap();
    let err = store
        .resolve(&format!("oci:{}:t", layout.display()))
        .await
        .unwrap_err();
    assert!(matches!(err, ImageError::InvalidLayer { .. }), "{err}");
    assert!(err.is_client_error());
    assert!(entries(&dir.path().join("store/layers/sha256")).is_empty());
}
