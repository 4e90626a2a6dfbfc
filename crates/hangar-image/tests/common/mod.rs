//! Helpers shared by the image store tests: sample root filesystems, layer tars, archives.

#![allow(dead_code)]

pub mod distribution;

use std::fs;
use std::io::Read;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use hangar_image::layout::LayoutWriter;
use hangar_image::ImageConfig;

pub const BUSYBOX: &str = "/bin/busybox";

/// True when the tests run as root (ownership, device nodes, trusted xattrs, mounts).
pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Prints a loud note that a check is skipped, straight to stderr so that the test
/// harness's output capture does not swallow it.
pub fn skip(what: &str, why: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "\n*** SKIPPED: {what}: {why} ***\n");
}

/// A small root filesystem: a static busybox (or a script when busybox-static is not
/// installed), a symlink, a hardlink, a set-uid file, a private directory.
pub fn sample_rootfs(parent: &Path) -> PathBuf {
    let root = parent.join("rootfs");
    fs::create_dir_all(root.join("bin")).unwrap();
    fs::create_dir_all(root.join("etc")).unwrap();
    fs::create_dir_all(root.join("usr/local/bin")).unwrap();
    fs::create_dir_all(root.join("var/empty")).unwrap();
    let program = root.join("bin/busybox");
    if Path::new(BUSYBOX).exists() {
        fs::copy(BUSYBOX, &program).unwrap();
    } else {
        skip(
            "static busybox in the sample image",
            "/bin/busybox is missing (apt-get install busybox-static); using a shell script",
        );
        fs::write(&program, "#!/bin/sh\necho busybox stand-in\n").unwrap();
    }
    set_mode(&program, 0o755);
    std::os::unix::fs::symlink("busybox", root.join("bin/sh")).unwrap();
    fs::hard_link(&program, root.join("bin/busybox-hardlink")).unwrap();
    fs::write(root.join("etc/hostname"), "hangar\n").unwrap();
    set_mode(&root.join("etc/hostname"), 0o644);
    fs::write(root.join("etc/secret"), "s3cret\n").unwrap();
    set_mode(&root.join("etc/secret"), 0o600);
    fs::write(root.join("usr/local/bin/suid"), "#!/bin/sh\n").unwrap();
    set_mode(&root.join("usr/local/bin/suid"), 0o4755);
    set_mode(&root.join("var/empty"), 0o700);
    root
}

pub fn set_mode(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

pub fn mode_of(path: &Path) -> u32 {
    fs::symlink_metadata(path).unwrap().mode() & 0o7777
}

/// The config the sample image carries.
pub fn sample_config() -> ImageConfig {
    ImageConfig {
        env: vec![
            "PATH=/bin:/usr/local/bin".to_owned(),
            "GREETING=hello".to_owned(),
        ],
        entrypoint: vec!["/bin/busybox".to_owned()],
        cmd: vec![
            "httpd".to_owned(),
            "-f".to_owned(),
            "-p".to_owned(),
            "8080".to_owned(),
        ],
        user: Some("0:0".to_owned()),
        working_dir: Some("/".to_owned()),
        exposed_ports: vec!["8080/tcp".to_owned()],
        labels: [("org.example.purpose".to_owned(), "test".to_owned())].into(),
        stop_signal: Some("SIGTERM".to_owned()),
    }
}

/// Writes the sample image into a layout at `parent/layout` tagged `v1`.
pub fn sample_layout(parent: &Path) -> (PathBuf, String) {
    let rootfs = sample_rootfs(parent);
    let layout = parent.join("layout");
    let digest =
        hangar_image::layout::write_oci_layout(&layout, &rootfs, &sample_config(), "v1").unwrap();
    (layout, digest)
}

/// One entry of a hand-made layer tar.
pub enum Entry<'a> {
    Dir(&'a str, u32),
    File(&'a str, &'a [u8], u32),
    OwnedFile(&'a str, &'a [u8], u32, u64, u64),
    Symlink(&'a str, &'a str),
    Hardlink(&'a str, &'a str),
    /// A raw name written without the tar crate's path checks (for traversal tests).
    RawFile(&'a [u8], &'a [u8]),
    /// A directory carrying extended attributes in a PAX header.
    DirWithXattrs(&'a str, &'a [(&'a str, &'a [u8])]),
}

/// Builds an uncompressed layer tar from `entries`, in order.
pub fn layer_tar(entries: &[Entry<'_>]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for entry in entries {
        let mut header = tar::Header::new_gnu();
        header.set_mtime(1_700_000_000);
        header.set_uid(0);
        header.set_gid(0);
        match *entry {
            Entry::Dir(path, mode) => {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_mode(mode);
                header.set_size(0);
                builder
                    .append_data(&mut header, path, std::io::empty())
                    .unwrap();
            }
            Entry::File(path, data, mode) => {
                header.set_entry_type(tar::EntryType::Regular);
                header.set_mode(mode);
                header.set_size(data.len() as u64);
                builder.append_data(&mut header, path, data).unwrap();
            }
            Entry::OwnedFile(path, data, mode, uid, gid) => {
                header.set_entry_type(tar::EntryType::Regular);
                header.set_mode(mode);
                header.set_uid(uid);
                header.set_gid(gid);
                header.set_size(data.len() as u64);
                builder.append_data(&mut header, path, data).unwrap();
            }
            Entry::Symlink(path, target) => {
                header.set_entry_type(tar::EntryType::Symlink);
                header.set_mode(0o777);
                header.set_size(0);
                builder.append_link(&mut header, path, target).unwrap();
            }
            Entry::Hardlink(path, target) => {
                header.set_entry_type(tar::EntryType::Link);
                header.set_mode(0o644);
                header.set_size(0);
                builder.append_link(&mut header, path, target).unwrap();
            }
            Entry::DirWithXattrs(path, xattrs) => {
                let records: Vec<(String, &[u8])> = xattrs
                    .iter()
                    .map(|(name, value)| (format!("SCHILY.xattr.{name}"), *value))
                    .collect();
                builder
                    .append_pax_extensions(records.iter().map(|(k, v)| (k.as_str(), *v)))
                    .unwrap();
                header.set_entry_type(tar::EntryType::Directory);
                header.set_mode(0o755);
                header.set_size(0);
                builder
                    .append_data(&mut header, path, std::io::empty())
                    .unwrap();
            }
            Entry::RawFile(name, data) => {
                header.set_entry_type(tar::EntryType::Regular);
                header.set_mode(0o644);
                header.set_size(data.len() as u64);
                let raw = header.as_old_mut();
                raw.name[..name.len()].copy_from_slice(name);
                header.set_cksum();
                builder.append(&header, data).unwrap();
            }
        }
    }
    builder.into_inner().unwrap()
}

/// Writes an image made of `layers` (uncompressed tars, bottom first; each gzip-compressed
/// when `compress`) into the layout `dir` under `tag`; returns the manifest digest.
pub fn layered_image(dir: &Path, layers: &[Vec<u8>], compress: bool, tag: &str) -> String {
    let writer = LayoutWriter::create(dir).unwrap();
    let blobs: Vec<_> = layers
        .iter()
        .map(|tar| writer.add_layer_from_tar(tar, compress).unwrap())
        .collect();
    writer.add_image(&blobs, &sample_config(), tag).unwrap()
}

/// The path of a blob inside a layout.
pub fn blob_path(layout: &Path, digest: &str) -> PathBuf {
    layout
        .join("blobs/sha256")
        .join(digest.strip_prefix("sha256:").unwrap())
}

/// Parses a JSON blob of a layout.
pub fn read_json(layout: &Path, digest: &str) -> serde_json::Value {
    serde_json::from_slice(&fs::read(blob_path(layout, digest)).unwrap()).unwrap()
}

/// Tars up a directory (as `oci-archive` expects of a layout).
pub fn tar_directory(dir: &Path, out: &Path) {
    let mut builder = tar::Builder::new(fs::File::create(out).unwrap());
    builder.append_dir_all(".", dir).unwrap();
    builder.into_inner().unwrap();
}

/// Builds a `docker save` style archive from the image `tag` of an OCI layout:
/// manifest.json, `<config hex>.json`, and `<id>/layer.tar` (uncompressed) per layer.
pub fn docker_archive_from_layout(
    layout: &Path,
    manifest_digest: &str,
    repo_tag: &str,
    out: &Path,
) {
    let manifest = read_json(layout, manifest_digest);
    let config_digest = manifest["config"]["digest"].as_str().unwrap();
    let config_hex = config_digest.strip_prefix("sha256:").unwrap();
    let mut builder = tar::Builder::new(fs::File::create(out).unwrap());
    let mut layer_paths = Vec::new();
    for (i, layer) in manifest["layers"].as_array().unwrap().iter().enumerate() {
        let compressed = fs::read(blob_path(layout, layer["digest"].as_str().unwrap())).unwrap();
        let mut plain = Vec::new();
        flate2::read::GzDecoder::new(&compressed[..])
            .read_to_end(&mut plain)
            .unwrap();
        let path = format!("{i:064x}/layer.tar");
        append_bytes(&mut builder, &path, &plain);
        layer_paths.push(path);
    }
    let config = fs::read(blob_path(layout, config_digest)).unwrap();
    append_bytes(&mut builder, &format!("{config_hex}.json"), &config);
    let listing = serde_json::json!([{
        "Config": format!("{config_hex}.json"),
        "RepoTags": [repo_tag],
        "Layers": layer_paths,
    }]);
    append_bytes(
        &mut builder,
        "manifest.json",
        listing.to_string().as_bytes(),
    );
    builder.into_inner().unwrap();
}

pub fn append_bytes<W: std::io::Write>(builder: &mut tar::Builder<W>, path: &str, data: &[u8]) {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Regular);
    header.set_mode(0o644);
    header.set_size(data.len() as u64);
    header.set_mtime(0);
    builder.append_data(&mut header, path, data).unwrap();
}

/// Entries of a directory other than those starting with `.` that the store keeps.
pub fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Reads an extended attribute of `path` itself; `None` when unset.
pub fn xattr(path: &Path, name: &str) -> Option<Vec<u8>> {
    use std::os::unix::ffi::OsStrExt;
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    let c_name = std::ffi::CString::new(name).unwrap();
    let mut buffer = vec![0u8; 256];
    // SAFETY: NUL-terminated strings and a live, writable buffer of the given length.
    let n = unsafe {
        libc::lgetxattr(
            c_path.as_ptr(),
            c_name.as_ptr(),
            buffer.as_mut_ptr().cast(),
            buffer.len(),
        )
    };
    (n >= 0).then(|| {
        buffer.truncate(n as usize);
        buffer
    })
}
