//! Layer semantics: whiteouts and opaque directories in overlayfs form, ownership, links,
//! and rejection of entries that would escape the layer directory.

mod common;

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use common::*;
use hangar_image::overlay;
use hangar_image::{ImageError, ImageStore};

fn lower_layer() -> Vec<u8> {
    layer_tar(&[
        Entry::Dir("etc", 0o755),
        Entry::File("etc/deleted", b"old\n", 0o644),
        Entry::File("etc/kept", b"kept\n", 0o644),
        Entry::Dir("opt", 0o755),
        Entry::Dir("opt/replaced", 0o755),
        Entry::File("opt/replaced/stale", b"stale\n", 0o644),
        Entry::Dir("opt/replaced/sub", 0o755),
        Entry::File("gone", b"bye\n", 0o644),
        Entry::OwnedFile("srv/owned", b"data\n", 0o4750, 1234, 5678),
        Entry::Hardlink("srv/owned-link", "srv/owned"),
        Entry::Symlink("srv/abs-link", "/etc/kept"),
    ])
}

fn upper_layer() -> Vec<u8> {
    layer_tar(&[
        Entry::File("etc/.wh.deleted", b"", 0o644),
        Entry::File("opt/replaced/.wh..wh..opq", b"", 0o644),
        Entry::File("opt/replaced/fresh", b"fresh\n", 0o644),
        Entry::File(".wh.gone", b"", 0o644),
        Entry::File("etc/added", b"added\n", 0o600),
    ])
}

async fn resolve_image(
    dir: &Path,
    layers: &[Vec<u8>],
    compress: bool,
) -> Result<hangar_image::ResolvedImage, ImageError> {
    let layout = dir.join("layout");
    layered_image(&layout, layers, compress, "t");
    let store = ImageStore::open(&dir.join("store")).unwrap();
    store.resolve(&format!("oci:{}:t", layout.display())).await
}

async fn resolve_layers(
    dir: &Path,
    layers: &[Vec<u8>],
    compress: bool,
) -> Result<Vec<PathBuf>, ImageError> {
    resolve_image(dir, layers, compress)
        .await
        .map(|image| image.layers)
}

#[tokio::test]
async fn whiteouts_and_opaque_directories_take_overlayfs_form() {
    let dir = tempfile::tempdir().unwrap();
    let image = resolve_image(dir.path(), &[lower_layer(), upper_layer()], true)
        .await
        .unwrap();
    let [lower, upper] = image.layers.as_slice() else {
        panic!("two layers expected, got {:?}", image.layers)
    };

    // The lower layer is untouched by the upper one's deletions.
    assert_eq!(
        fs::read_to_string(lower.join("etc/deleted")).unwrap(),
        "old\n"
    );
    assert!(lower.join("opt/replaced/stale").exists());

    assert_eq!(
        fs::read_to_string(upper.join("opt/replaced/fresh")).unwrap(),
        "fresh\n"
    );
    assert_eq!(
        fs::read_to_string(upper.join("etc/added")).unwrap(),
        "added\n"
    );
    assert_eq!(mode_of(&upper.join("etc/added")), 0o600);
    assert!(!upper.join("opt/replaced/.wh..wh..opq").exists());
    assert!(overlay::is_opaque(&upper.join("opt/replaced")).unwrap());
    assert!(!overlay::is_opaque(&upper.join("etc")).unwrap());
    if is_root() {
        // Deletions are whiteout devices; no .wh. entries remain.
        assert!(!upper.join("etc/.wh.deleted").exists());
        assert!(overlay::is_whiteout(&upper.join("etc/deleted")).unwrap());
        assert!(overlay::is_whiteout(&upper.join("gone")).unwrap());
        let owned = fs::metadata(lower.join("srv/owned")).unwrap();
        assert_eq!((owned.uid(), owned.gid()), (1234, 5678), "ownership kept");
        assert_eq!(owned.mode() & 0o7777, 0o4750, "set-uid kept after chown");
        let link = fs::metadata(lower.join("srv/owned-link")).unwrap();
        assert_eq!(link.ino(), owned.ino(), "hardlink kept");
        assert_eq!(
            fs::read_link(lower.join("srv/abs-link")).unwrap(),
            Path::new("/etc/kept")
        );
        stack_with_overlayfs(dir.path(), &image);
    } else {
        skip(
            "whiteout device nodes, ownership and the overlayfs mount",
            "not running as root (whiteouts stay .wh. files)",
        );
        assert!(upper.join("etc/.wh.deleted").exists());
        assert!(!upper.join("etc/deleted").exists());
    }
}

/// Mounts the two layers with overlayfs and checks the merged view a Machine would see.
fn stack_with_overlayfs(dir: &Path, image: &hangar_image::ResolvedImage) {
    use nix::mount::{mount, umount2, MntFlags, MsFlags};
    let merged = dir.join("merged");
    fs::create_dir(&merged).unwrap();
    let options = format!("lowerdir={}", image.overlay_lowerdir());
    if let Err(e) = mount(
        Some("overlay"),
        &merged,
        Some("overlay"),
        MsFlags::MS_RDONLY,
        Some(options.as_str()),
    ) {
        skip("overlayfs merge check", &format!("mount failed: {e}"));
        return;
    }
    // Read everything before unmounting, and only then assert, so a failure never
    // leaves the mount behind.
    let list = |path: PathBuf| -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(path)
            .map(|dir| {
                dir.filter_map(Result::ok)
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    };
    let view = (
        list(merged.join("etc")),
        list(merged.join("opt/replaced")),
        list(merged.clone()),
    );
    umount2(&merged, MntFlags::MNT_DETACH).unwrap();
    let (etc, replaced, top) = view;
    assert_eq!(etc, vec!["added", "kept"], "whiteout hides etc/deleted");
    assert_eq!(
        replaced,
        vec!["fresh"],
        "opaque dir hides the lower contents"
    );
    assert!(
        !top.contains(&"gone".to_owned()),
        "top-level whiteout: {top:?}"
    );
}

#[tokio::test]
async fn uncompressed_layers_work_too() {
    let dir = tempfile::tempdir().unwrap();
    let layers = resolve_layers(dir.path(), &[lower_layer()], false)
        .await
        .unwrap();
    assert_eq!(
        fs::read_to_string(layers[0].join("etc/kept")).unwrap(),
        "kept\n"
    );
}

#[tokio::test]
async fn a_parent_directory_entry_escaping_the_root_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let evil = layer_tar(&[
        Entry::File("ok", b"fine", 0o644),
        Entry::RawFile(b"../../escaped", b"pwned"),
    ]);
    let err = resolve_layers(dir.path(), &[evil], true).await.unwrap_err();
    assert!(matches!(err, ImageError::InvalidLayer { .. }), "{err}");
    assert!(err.is_client_error());
    assert!(err.to_string().contains("escapes"), "{err}");
    assert!(!dir.path().join("escaped").exists());
    assert!(!dir.path().join("store/escaped").exists());
    assert!(entries(&dir.path().join("store/layers/sha256")).is_empty());
    assert!(entries(&dir.path().join("store/tmp")).is_empty());
}

#[tokio::test]
async fn an_entry_through_a_symlink_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let outside = dir.path().join("outside");
    fs::create_dir(&outside).unwrap();
    let evil = layer_tar(&[
        Entry::Symlink("link", outside.to_str().unwrap()),
        Entry::File("link/planted", b"pwned", 0o644),
    ]);
    let err = resolve_layers(dir.path(), &[evil], true).await.unwrap_err();
    assert!(matches!(err, ImageError::InvalidLayer { .. }), "{err}");
    assert!(err.to_string().contains("symlink"), "{err}");
    assert!(
        !outside.join("planted").exists(),
        "nothing written through the link"
    );
}

#[tokio::test]
async fn a_hardlink_to_outside_the_layer_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let evil = layer_tar(&[Entry::Hardlink("passwd", "../../../../etc/passwd")]);
    let err = resolve_layers(dir.path(), &[evil], true).await.unwrap_err();
    assert!(matches!(err, ImageError::InvalidLayer { .. }), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let dangling = layer_tar(&[Entry::Hardlink("a", "not/in/this/layer")]);
    let err = resolve_layers(dir.path(), &[dangling], true)
        .await
        .unwrap_err();
    assert!(matches!(err, ImageError::InvalidLayer { .. }), "{err}");
}

#[tokio::test]
async fn a_directory_replaced_by_a_symlink_does_not_leak_its_mode() {
    let dir = tempfile::tempdir().unwrap();
    let outside = dir.path().join("outside");
    fs::create_dir(&outside).unwrap();
    set_mode(&outside, 0o755);
    let tricky = layer_tar(&[
        Entry::Dir("d", 0o700),
        Entry::Symlink("d", outside.to_str().unwrap()),
    ]);
    let layers = resolve_layers(dir.path(), &[tricky], true).await.unwrap();
    assert_eq!(fs::read_link(layers[0].join("d")).unwrap(), outside);
    assert_eq!(
        mode_of(&outside),
        0o755,
        "the symlink's target was not chmod-ed"
    );
}

#[tokio::test]
async fn layer_xattrs_are_kept_but_overlayfs_ones_are_not_planted() {
    let dir = tempfile::tempdir().unwrap();
    let layer = layer_tar(&[Entry::DirWithXattrs(
        "data",
        &[
            ("user.hangar.note", b"kept"),
            ("trusted.overlay.opaque", b"y"),
            ("user.overlay.opaque", b"y"),
        ],
    )]);
    let layers = resolve_layers(dir.path(), &[layer], true).await.unwrap();
    let data = layers[0].join("data");
    assert!(data.is_dir());
    assert_eq!(
        xattr(&data, "user.hangar.note").as_deref(),
        Some(&b"kept"[..])
    );
    assert!(
        !overlay::is_opaque(&data).unwrap(),
        "a layer cannot make itself opaque through raw xattrs"
    );
}
