//! How unpacked layers mark deletions, in the form overlayfs reads from lower directories.
//!
//! A layer tar deletes a lower file `NAME` with an entry `.wh.NAME` and hides a lower
//! directory's contents with `.wh..wh..opq`. Unpacked, these become a character device 0:0
//! named `NAME` and the xattr `trusted.overlay.opaque=y` on the directory. Without root
//! (no `mknod`, no `trusted.*` xattrs) whiteouts stay `.wh.NAME` empty files and opaque
//! directories get `user.overlay.opaque=y` instead (overlayfs's `userxattr` form).

use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use crate::xattr;

/// Prefix of whiteout entries in layer tars.
pub const WHITEOUT_PREFIX: &str = ".wh.";
/// Name of the entry that makes its directory opaque in layer tars.
pub const OPAQUE_MARKER: &str = ".wh..wh..opq";
/// Xattr that makes a directory opaque for overlayfs (set when running as root).
pub const OPAQUE_XATTR: &str = "trusted.overlay.opaque";
/// Xattr that makes a directory opaque for overlayfs mounted with `userxattr` (set without root).
pub const USER_OPAQUE_XATTR: &str = "user.overlay.opaque";

/// True when `path` is an overlayfs whiteout (a character device 0:0).
pub fn is_whiteout(path: &Path) -> io::Result<bool> {
    let metadata = std::fs::symlink_metadata(path)?;
    Ok(metadata.file_type().is_char_device() && metadata.rdev() == 0)
}

/// True when `dir` carries an overlayfs opaque xattr (either form).
pub fn is_opaque(dir: &Path) -> io::Result<bool> {
    for name in [OPAQUE_XATTR, USER_OPAQUE_XATTR] {
        match xattr::get(dir, name) {
            Ok(Some(value)) if value == b"y" => return Ok(true),
            Ok(_) => {}
            Err(e) if e.raw_os_error() == Some(libc::EPERM) => {}
            Err(e) if e.raw_os_error() == Some(libc::ENOTSUP) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(false)
}
