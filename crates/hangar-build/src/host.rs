//! `FROM host`: a base image whose root filesystem is the host's own system
//! directories, so programs installed on the host (and binaries linked
//! against its libraries) run in a Machine without Docker or a registry.
//!
//! **For trusted hosts and development only.** A Machine started from such
//! an image sees the host's `/usr` (and `/bin`, `/sbin`, `/lib*` where they
//! are real directories), read-only; it still has its own writable layer,
//! namespaces and cgroups. The image is only meaningful on a host like the
//! one that built it.
//!
//! How: the base layer holds the mount points (`usr/`, the merged-`/usr`
//! symlinks as the host has them), copies of the essential `/etc` files
//! (passwd, group, nsswitch.conf, the dynamic loader's cache and config,
//! alternatives, CA certificates, localtime, os-release), empty `/tmp`,
//! `/proc`, `/sys`, `/dev`, `/run`, and the marker file [`HOST_BASE_MARKER`].
//! The process driver (`hangar-driver-process`) bind-mounts the host's
//! system directories read-only into the root of any Machine whose image
//! layers contain that marker. The image config also carries the label
//! [`HOST_BASE_LABEL`]` = host`.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::layout::{Content, Entry, LayerEntries};

/// File at the root of the host base layer that asks the process driver to
/// bind-mount the host's system directories (same name there).
pub const HOST_BASE_MARKER: &str = ".hangar-host-base";

/// Label set on images built `FROM host`.
pub const HOST_BASE_LABEL: &str = "dev.hangar.base";

/// Directories the driver binds from the host when they are real directories.
pub const HOST_SYSTEM_DIRS: &[&str] = &["usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32"];

/// `/etc` entries copied into the base layer (when present on the host).
const ETC_ESSENTIALS: &[&str] = &[
    "passwd",
    "group",
    "nsswitch.conf",
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "alternatives",
    "ssl",
    "ca-certificates.conf",
    "localtime",
    "os-release",
    "services",
    "protocols",
    "host.conf",
    "mime.types",
];

/// `PATH` of a host-based image.
pub const HOST_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

const MARKER_TEXT: &str = "This image is based on the host's system directories (FROM host).\n\
The Hangar process driver bind-mounts the host's /usr, /bin, /sbin and /lib* here, read-only.\n\
For trusted hosts and development only.\n";

fn entry(content: Content, mode: u32) -> Entry {
    Entry {
        content,
        mode,
        uid: 0,
        gid: 0,
    }
}

/// The entries of the host base layer, read from the host root `root`
/// (normally `/`).
pub(crate) fn base_layer(root: &Path) -> std::io::Result<LayerEntries> {
    let mut entries = LayerEntries::new();
    for dir in HOST_SYSTEM_DIRS {
        match fs::symlink_metadata(root.join(dir)) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let target = fs::read_link(root.join(dir))?;
                entries.insert((*dir).to_owned(), entry(Content::Symlink(target), 0o777));
            }
            Ok(meta) if meta.is_dir() => {
                entries.insert((*dir).to_owned(), entry(Content::Dir, 0o755));
            }
            _ => {}
        }
    }
    for (dir, mode) in [
        ("etc", 0o755),
        ("tmp", 0o1777),
        ("var", 0o755),
        ("var/tmp", 0o1777),
        ("root", 0o700),
        ("home", 0o755),
        ("proc", 0o555),
        ("sys", 0o555),
        ("dev", 0o755),
        ("run", 0o755),
    ] {
        entries.insert(dir.to_owned(), entry(Content::Dir, mode));
    }
    for name in ETC_ESSENTIALS {
        copy_tree(root, &format!("etc/{name}"), &mut entries)?;
    }
    entries.insert(
        HOST_BASE_MARKER.to_owned(),
        entry(
            Content::Bytes(MARKER_TEXT.as_bytes().to_vec().into()),
            0o444,
        ),
    );
    Ok(entries)
}

/// Adds `relative` (below `root`) and what is inside it, symlinks kept.
fn copy_tree(root: &Path, relative: &str, entries: &mut LayerEntries) -> std::io::Result<()> {
    let path = root.join(relative);
    let meta = match fs::symlink_metadata(&path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    let mode = meta.mode() & 0o7777;
    if meta.file_type().is_symlink() {
        entries.insert(
            relative.to_owned(),
            entry(Content::Symlink(fs::read_link(&path)?), 0o777),
        );
    } else if meta.is_dir() {
        entries.insert(relative.to_owned(), entry(Content::Dir, mode));
        let mut names: Vec<_> = fs::read_dir(&path)?
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        for name in names {
            copy_tree(root, &format!("{relative}/{name}"), entries)?;
        }
    } else if meta.is_file() && mode & 0o004 != 0 {
        // World-readable files only: nothing secret leaves the host's /etc.
        entries.insert(relative.to_owned(), entry(Content::File(path), mode));
    }
    Ok(())
}
