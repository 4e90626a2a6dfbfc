//! Resolving `oci:`, `oci-archive:` and `docker-archive:` references into unpacked layers.

mod common;

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use common::*;
use hangar_image::ImageStore;

fn assert_sample_layer(layer: &Path) {
    let program = layer.join("bin/busybox");
    if Path::new(BUSYBOX).exists() {
        assert_eq!(fs::read(&program).unwrap(), fs::read(BUSYBOX).unwrap());
    }
    assert_eq!(mode_of(&program), 0o755);
    assert_eq!(
        fs::read_link(layer.join("bin/sh")).unwrap(),
        Path::new("busybox")
    );
    let hardlink = fs::metadata(layer.join("bin/busybox-hardlink")).unwrap();
    assert_eq!(
        hardlink.ino(),
        fs::metadata(&program).unwrap().ino(),
        "hardlink kept"
    );
    assert_eq!(
        fs::read_to_string(layer.join("etc/hostname")).unwrap(),
        "hangar\n"
    );
    assert_eq!(mode_of(&layer.join("etc/secret")), 0o600);
    assert_eq!(
        mode_of(&layer.join("usr/local/bin/suid")),
        0o4755,
        "set-uid bit kept"
    );
    assert_eq!(mode_of(&layer.join("var/empty")), 0o700);
    if is_root() {
        let meta = fs::metadata(layer.join("etc/hostname")).unwrap();
        assert_eq!((meta.uid(), meta.gid()), (0, 0));
    }
}

#[tokio::test]
async fn oci_layout_resolves_and_layers_are_unpacked_once() {
    let dir = tempfile::tempdir().unwrap();
    let (layout, digest) = sample_layout(dir.path());
    let store = ImageStore::open(&dir.path().join("store")).unwrap();
    let reference = format!("oci:{}:v1", layout.display());

    assert!(store.cached(&reference).is_none(), "nothing cached yet");
    let image = store.resolve(&reference).await.unwrap();
    assert_eq!(image.reference, reference);
    assert_eq!(image.digest, digest);
    assert_eq!(image.registry, "oci");
    assert_eq!(
        image.repository,
        fs::canonicalize(&layout).unwrap().display().to_string()
    );
    assert_eq!(image.tag.as_deref(), Some("v1"));
    assert_eq!(image.config, sample_config());
    assert_eq!(image.layers.len(), 1);
    assert!(image.layers[0].starts_with(dir.path().join("store/layers/sha256")));
    assert_sample_layer(&image.layers[0]);

    // A second resolve reuses the unpacked directory instead of unpacking again.
    let layer_inode = fs::metadata(&image.layers[0]).unwrap().ino();
    let file_inode = fs::metadata(image.layers[0].join("etc/hostname"))
        .unwrap()
        .ino();
    let again = store.resolve(&reference).await.unwrap();
    assert_eq!(again, image);
    assert_eq!(fs::metadata(&again.layers[0]).unwrap().ino(), layer_inode);
    assert_eq!(
        fs::metadata(again.layers[0].join("etc/hostname"))
            .unwrap()
            .ino(),
        file_inode
    );
    assert_eq!(store.cached(&reference), Some(image.clone()));

    // A store reopened on the same root still has it, without the source.
    let reopened = ImageStore::open(&dir.path().join("store")).unwrap();
    fs::rename(&layout, dir.path().join("moved")).unwrap();
    let cached = reopened.cached(&reference);
    assert!(
        cached.is_none(),
        "local references need their path to exist to parse"
    );
    fs::rename(dir.path().join("moved"), &layout).unwrap();
    assert_eq!(reopened.cached(&reference), Some(image));
    assert!(
        entries(&dir.path().join("store/tmp")).is_empty(),
        "no scratch left"
    );
}

/// A Machine re-resolves its image at every start: resolving an unchanged
/// local image must not rewrite (and fsync) its reference record, while a
/// moved tag is still found and recorded.
#[tokio::test]
async fn re_resolving_an_unchanged_local_image_rewrites_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (layout, first_digest) = sample_layout(dir.path());
    let store = ImageStore::open(&dir.path().join("store")).unwrap();
    let reference = format!("oci:{}:v1", layout.display());
    let first = store.resolve(&reference).await.unwrap();
    assert_eq!(first.digest, first_digest);
    let refs = dir.path().join("store/refs");
    let names = entries(&refs);
    assert_eq!(names.len(), 1, "one reference record: {names:?}");
    let record = refs.join(&names[0]);
    let written = fs::metadata(&record).unwrap().ino();

    let again = store.resolve(&reference).await.unwrap();
    assert_eq!(again, first);
    assert_eq!(
        fs::metadata(&record).unwrap().ino(),
        written,
        "an unchanged reference record is not written again"
    );

    // The tag moves to another image in the same layout.
    let mut other_config = sample_config();
    other_config.cmd = vec!["sh".to_owned()];
    let moved_digest = hangar_image::layout::write_oci_layout(
        &layout,
        &dir.path().join("rootfs"),
        &other_config,
        "v1",
    )
    .unwrap();
    assert_ne!(moved_digest, first_digest);
    let moved = store.resolve(&reference).await.unwrap();
    assert_eq!(moved.digest, moved_digest);
    assert_eq!(moved.config.cmd, vec!["sh"]);
    assert_ne!(fs::metadata(&record).unwrap().ino(), written, "rewritten");
    let reopened = ImageStore::open(&dir.path().join("store")).unwrap();
    assert_eq!(
        reopened.cached(&reference).map(|i| i.digest),
        Some(moved_digest)
    );
    assert!(entries(&dir.path().join("store/tmp")).is_empty());
}

#[tokio::test]
async fn images_sharing_a_layer_share_its_directory() {
    let dir = tempfile::tempdir().unwrap();
    let (layout, first_digest) = sample_layout(dir.path());
    let mut other_config = sample_config();
    other_config.cmd = vec!["sh".to_owned()];
    let second_digest = hangar_image::layout::write_oci_layout(
        &layout,
        &dir.path().join("rootfs"),
        &other_config,
        "v2",
    )
    .unwrap();
    assert_ne!(first_digest, second_digest);

    let store = ImageStore::open(&dir.path().join("store")).unwrap();
    let first = store
        .resolve(&format!("oci:{}:v1", layout.display()))
        .await
        .unwrap();
    let second = store
        .resolve(&format!("oci:{}:v2", layout.display()))
        .await
        .unwrap();
    assert_eq!(second.digest, second_digest);
    assert_eq!(second.config.cmd, vec!["sh"]);
    assert_eq!(first.layers, second.layers, "same layer, same directory");
    assert_eq!(entries(&dir.path().join("store/layers/sha256")).len(), 1);

    // Two images in one layout: naming none is ambiguous and says which tags exist.
    let err = store
        .resolve(&format!("oci:{}", layout.display()))
        .await
        .unwrap_err();
    assert!(err.is_client_error());
    assert!(err.to_string().contains("v1, v2"), "{err}");
}

#[test]
fn the_writer_is_deterministic() {
    let dir = tempfile::tempdir().unwrap();
    let rootfs = sample_rootfs(dir.path());
    let config = sample_config();
    let a = hangar_image::layout::write_oci_layout(&dir.path().join("a"), &rootfs, &config, "t")
        .unwrap();
    // Touch every file: mtimes must not matter.
    for path in ["etc/hostname", "bin/busybox", "var/empty"] {
        let now = nix::sys::time::TimeSpec::new(1_800_000_000, 0);
        nix::sys::stat::utimensat(
            nix::fcntl::AT_FDCWD,
            &rootfs.join(path),
            &now,
            &now,
            nix::sys::stat::UtimensatFlags::NoFollowSymlink,
        )
        .unwrap();
    }
    let b = hangar_image::layout::write_oci_layout(&dir.path().join("b"), &rootfs, &config, "t")
        .unwrap();
    assert_eq!(a, b);
    fs::write(rootfs.join("etc/hostname"), "changed\n").unwrap();
    let c = hangar_image::layout::write_oci_layout(&dir.path().join("c"), &rootfs, &config, "t")
        .unwrap();
    assert_ne!(a, c);
}

#[tokio::test]
async fn oci_archive_resolves_to_the_same_image() {
    let dir = tempfile::tempdir().unwrap();
    let (layout, digest) = sample_layout(dir.path());
    let archive = dir.path().join("image.tar");
    tar_directory(&layout, &archive);

    let store = ImageStore::open(&dir.path().join("store")).unwrap();
    let image = store
        .resolve(&format!("oci-archive:{}", archive.display()))
        .await
        .unwrap();
    assert_eq!(image.digest, digest);
    assert_eq!(image.registry, "oci-archive");
    assert_eq!(image.tag.as_deref(), Some("v1"), "found by its only tag");
    assert_eq!(image.config, sample_config());
    assert_sample_layer(&image.layers[0]);

    let tagged = store
        .resolve(&format!("oci-archive:{}:v1", archive.display()))
        .await
        .unwrap();
    assert_eq!(tagged.layers, image.layers);
}

#[tokio::test]
async fn docker_archive_resolves() {
    let dir = tempfile::tempdir().unwrap();
    let (layout, digest) = sample_layout(dir.path());
    let archive = dir.path().join("saved.tar");
    docker_archive_from_layout(&layout, &digest, "example/app:v1", &archive);

    let store = ImageStore::open(&dir.path().join("store")).unwrap();
    let image = store
        .resolve(&format!("docker-archive:{}", archive.display()))
        .await
        .unwrap();
    assert_eq!(image.registry, "docker-archive");
    assert_eq!(image.tag.as_deref(), Some("example/app:v1"));
    assert_eq!(image.config, sample_config());
    assert_sample_layer(&image.layers[0]);
    assert!(image.digest.starts_with("sha256:"));

    // Selecting by the full RepoTag or by its tag alone finds the same image.
    for suffix in ["example/app:v1", "v1"] {
        let again = store
            .resolve(&format!("docker-archive:{}:{suffix}", archive.display()))
            .await
            .unwrap();
        assert_eq!(again.digest, image.digest);
        assert_eq!(again.layers, image.layers);
    }
    let err = store
        .resolve(&format!("docker-archive:{}:v9", archive.display()))
        .await
        .unwrap_err();
    assert!(
        matches!(err, hangar_image::ImageError::NotFound { .. }),
        "{err}"
    );
    assert!(
        err.to_string().contains("example/app:v1"),
        "lists tags: {err}"
    );
}

#[tokio::test]
async fn concurrent_resolves_unpack_each_layer_once() {
    let dir = tempfile::tempdir().unwrap();
    let (layout, digest) = sample_layout(dir.path());
    let root = dir.path().join("store");
    let reference = format!("oci:{}:v1", layout.display());
    let mut tasks = Vec::new();
    for i in 0..6 {
        // Half share one store handle, half open their own on the same root.
        let store = if i % 2 == 0 {
            ImageStore::open(&root).unwrap()
        } else {
            ImageStore::open(&root).unwrap().clone()
        };
        let reference = reference.clone();
        tasks.push(tokio::spawn(async move { store.resolve(&reference).await }));
    }
    let mut layers = Vec::new();
    for task in tasks {
        let image = task.await.unwrap().unwrap();
        assert_eq!(image.digest, digest);
        layers.push(image.layers);
    }
    assert!(layers.windows(2).all(|w| w[0] == w[1]));
    assert_eq!(entries(&root.join("layers/sha256")).len(), 1);
    assert!(
        entries(&root.join("tmp")).is_empty(),
        "no scratch left behind"
    );
    assert_sample_layer(&layers[0][0]);
}

#[tokio::test]
async fn an_index_resolves_to_the_host_platform() {
    let dir = tempfile::tempdir().unwrap();
    let (layout, digest) = sample_layout(dir.path());
    let writer = hangar_image::layout::LayoutWriter::create(&layout).unwrap();
    let size = fs::metadata(blob_path(&layout, &digest)).unwrap().len();
    let host = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    let foreign = if host == "s390x" { "riscv64" } else { "s390x" };
    let missing = format!("sha256:{}", "0".repeat(64));
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": missing,
             "size": 100, "platform": {"os": "linux", "architecture": foreign}},
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest,
             "size": size, "platform": {"os": "linux", "architecture": host}},
        ]
    });
    let index_digest = writer.add_blob(index.to_string().as_bytes()).unwrap();
    writer
        .tag(
            "multi",
            "application/vnd.oci.image.index.v1+json",
            &index_digest,
        )
        .unwrap();
    let only_foreign = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": missing,
             "size": 100, "platform": {"os": "linux", "architecture": foreign}},
        ]
    });
    let foreign_digest = writer
        .add_blob(only_foreign.to_string().as_bytes())
        .unwrap();
    writer
        .tag(
            "foreign",
            "application/vnd.oci.image.index.v1+json",
            &foreign_digest,
        )
        .unwrap();

    let store = ImageStore::open(&dir.path().join("store")).unwrap();
    let image = store
        .resolve(&format!("oci:{}:multi", layout.display()))
        .await
        .unwrap();
    assert_eq!(image.digest, digest, "the platform manifest, not the index");
    assert_sample_layer(&image.layers[0]);

    let err = store
        .resolve(&format!("oci:{}:foreign", layout.display()))
        .await
        .unwrap_err();
    assert!(
        matches!(err, hangar_image::ImageError::Unsupported { .. }),
        "{err}"
    );
    assert!(err.is_client_error());
    assert!(
        err.to_string().contains(&format!("linux/{foreign}")),
        "{err}"
    );
}
