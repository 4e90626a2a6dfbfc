//! Unpacking one layer tar into its own directory, verifying its digests on the way.
//!
//! Every entry path is confined to the layer directory: `..` components and paths that pass
//! through a symlink are rejected, never followed. Whiteouts become their overlayfs form
//! (see [`crate::overlay`]). Ownership, modes (including set-id bits), mtimes, hardlinks,
//! symlinks, devices, fifos and `SCHILY.xattr.*` attributes are kept.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use flate2::bufread::MultiGzDecoder;
use nix::sys::stat::{Mode, SFlag, UtimensatFlags};
use nix::sys::time::TimeSpec;
use tar::EntryType;

use crate::digest::{Digest, HashingReader};
use crate::error::ImageError;
use crate::overlay::{OPAQUE_MARKER, OPAQUE_XATTR, USER_OPAQUE_XATTR, WHITEOUT_PREFIX};
use crate::xattr;

/// The layer being unpacked, as its manifest and config name it.
pub(crate) struct LayerSpec<'a> {
    /// The image reference, for error messages.
    pub reference: &'a str,
    /// Digest of the blob as stored (compressed or not).
    pub digest: &'a Digest,
    /// Digest of the uncompressed tar, from the image config.
    pub diff_id: Option<&'a Digest>,
}

/// Why an entry could not be written.
enum Failure {
    /// The layer itself is malformed or unsafe.
    Invalid(String),
    /// The local filesystem refused.
    Io(String, io::Error),
}

/// Errors while reading the archive mean the layer is not a well-formed tar stream
/// (write errors are mapped where they happen, with the path).
impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Self {
        Failure::Invalid(format!("it is not a readable tar stream: {e}"))
    }
}

fn io_failure<'a>(action: &'a str, path: &'a Path) -> impl FnOnce(io::Error) -> Failure + 'a {
    move |e| Failure::Io(format!("{action} {}", path.display()), e)
}

fn nix_failure<'a>(action: &'a str, path: &'a Path) -> impl FnOnce(nix::Error) -> Failure + 'a {
    move |e| Failure::Io(format!("{action} {}", path.display()), io::Error::from(e))
}

/// Blob compression, told by magic bytes rather than media type.
enum Decompressor<R: BufRead> {
    Gzip(MultiGzDecoder<R>),
    Plain(R),
}

impl<R: BufRead> Decompressor<R> {
    fn into_inner(self) -> R {
        match self {
            Decompressor::Gzip(d) => d.into_inner(),
            Decompressor::Plain(r) => r,
        }
    }
}

impl<R: BufRead> Read for Decompressor<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Decompressor::Gzip(d) => d.read(buf),
            Decompressor::Plain(r) => r.read(buf),
        }
    }
}

const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];
const ZSTD_MAGIC: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];

/// Unpacks `blob` into the existing empty directory `dest`.
///
/// Fails with [`ImageError::DigestMismatch`] when the blob or its uncompressed tar does not
/// hash to the expected digests; in that case `dest` holds partial content and must be
/// discarded by the caller.
pub(crate) fn unpack_layer(
    blob: impl Read,
    layer: &LayerSpec<'_>,
    dest: &Path,
) -> Result<(), ImageError> {
    let invalid = |reason: String| ImageError::InvalidLayer {
        reference: layer.reference.to_owned(),
        layer: layer.digest.to_string(),
        reason,
    };
    let mut compressed = BufReader::with_capacity(256 << 10, HashingReader::new(blob));
    let magic = compressed
        .fill_buf()
        .map_err(|e| ImageError::io(format!("reading layer {}", layer.digest), e))?;
    if magic.starts_with(ZSTD_MAGIC) {
        return Err(ImageError::Unsupported {
            reference: layer.reference.to_owned(),
            reason: format!(
                "layer {} is zstd-compressed; only gzip and uncompressed layers are supported",
                layer.digest
            ),
        });
    }
    let decompressor = if magic.starts_with(GZIP_MAGIC) {
        Decompressor::Gzip(MultiGzDecoder::new(compressed))
    } else {
        Decompressor::Plain(compressed)
    };
    let mut archive = tar::Archive::new(HashingReader::new(decompressor));
    let mut writer = LayerWriter::new(dest);
    let extracted = writer.extract(&mut archive);
    let mut uncompressed = archive.into_inner();
    let drained = match &extracted {
        Ok(()) => uncompressed.drain().map_err(Failure::from),
        Err(_) => Ok(()),
    };
    let (decompressor, diff_id, _) = uncompressed.finish();
    let mut compressed = decompressor.into_inner();
    let raw_drained = io::copy(&mut compressed, &mut io::sink());
    let (_, digest, _) = compressed.into_inner().finish();

    // A digest mismatch explains any parse failure, so it is reported first.
    if raw_drained.is_ok() && &digest != layer.digest {
        return Err(ImageError::DigestMismatch {
            what: format!("layer blob of {}", layer.reference),
            expected: layer.digest.to_string(),
            actual: digest.to_string(),
        });
    }
    let outcome = extracted.and(drained).and_then(|()| writer.finish());
    match outcome {
        Ok(()) => {}
        Err(Failure::Invalid(reason)) => return Err(invalid(reason)),
        Err(Failure::Io(context, source)) => return Err(ImageError::Io { context, source }),
    }
    raw_drained.map_err(|e| ImageError::io(format!("reading layer {}", layer.digest), e))?;
    if let Some(expected) = layer.diff_id {
        if &diff_id != expected {
            return Err(ImageError::DigestMismatch {
                what: format!(
                    "uncompressed content (diff_id) of layer {} of {}",
                    layer.digest, layer.reference
                ),
                expected: expected.to_string(),
                actual: diff_id.to_string(),
            });
        }
    }
    Ok(())
}

/// A directory whose mode and mtime are applied last, deepest first, so that
/// read-only directories can still be filled and child writes do not bump mtimes.
struct DeferredDirectory {
    path: PathBuf,
    mode: u32,
    mtime: i64,
}

/// Writes archive entries under one root.
struct LayerWriter<'a> {
    root: &'a Path,
    privileged: bool,
    deferred: Vec<DeferredDirectory>,
    warned_unprivileged: bool,
}

impl<'a> LayerWriter<'a> {
    fn new(root: &'a Path) -> Self {
        LayerWriter {
            root,
            privileged: nix::unistd::geteuid().is_root(),
            deferred: Vec::new(),
            warned_unprivileged: false,
        }
    }

    fn extract<R: Read>(&mut self, archive: &mut tar::Archive<R>) -> Result<(), Failure> {
        for entry in archive.entries()? {
            self.apply(entry?)?;
        }
        Ok(())
    }

    fn apply<R: Read>(&mut self, mut entry: tar::Entry<'_, R>) -> Result<(), Failure> {
        let kind = entry.header().entry_type();
        if matches!(
            kind,
            EntryType::XGlobalHeader
                | EntryType::XHeader
                | EntryType::GNULongName
                | EntryType::GNULongLink
        ) {
            return Ok(());
        }
        let raw_path = entry.path()?.into_owned();
        let relative = confined(&raw_path)?;
        let header = entry.header();
        let mode = header.mode()? & 0o7777;
        let owner = (id(header.uid()?)?, id(header.gid()?)?);
        let mtime = i64::try_from(header.mtime()?).unwrap_or(0);
        let xattrs = pax_xattrs(&mut entry)?;

        if relative.as_os_str().is_empty() {
            // The layer root itself ("./").
            if kind == EntryType::Directory {
                self.chown(self.root, owner)?;
                self.deferred.push(DeferredDirectory {
                    path: self.root.to_path_buf(),
                    mode,
                    mtime,
                });
            }
            return Ok(());
        }
        let name = relative
            .file_name()
            .and_then(|n| n.to_str())
            .map(str::to_owned);
        if let Some(name) = name.as_deref() {
            if name == OPAQUE_MARKER {
                let dir = self.prepare_parents(&relative)?;
                return self.mark_opaque(&dir);
            }
            if let Some(hidden) = name.strip_prefix(WHITEOUT_PREFIX) {
                if hidden.starts_with(WHITEOUT_PREFIX) {
                    // Other AUFS bookkeeping entries (.wh..wh.plnk, ...) carry nothing.
                    return Ok(());
                }
                if hidden.is_empty() || hidden == "." || hidden == ".." {
                    return Err(Failure::Invalid(format!(
                        "whiteout entry {} names no file",
                        raw_path.display()
                    )));
                }
                let dir = self.prepare_parents(&relative)?;
                return self.whiteout(&dir, hidden, owner);
            }
        }
        self.prepare_parents(&relative)?;
        let target = self.root.join(&relative);
        match kind {
            EntryType::Directory => {
                self.make_directory(&target)?;
                self.chown(&target, owner)?;
                self.set_xattrs(&target, &xattrs);
                self.deferred.push(DeferredDirectory {
                    path: target,
                    mode,
                    mtime,
                });
            }
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
                remove_existing(&target)?;
                let mut file = OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(&target)
                    .map_err(io_failure("cannot create", &target))?;
                copy_contents(&mut entry, &mut file, &target)?;
                drop(file);
                self.chown(&target, owner)?;
                set_mode(&target, mode)?;
                self.set_xattrs(&target, &xattrs);
                set_mtime(&target, mtime)?;
            }
            EntryType::Symlink => {
                let link = entry.link_name()?.ok_or_else(|| {
                    Failure::Invalid(format!("symlink {} has no target", raw_path.display()))
                })?;
                remove_existing(&target)?;
                std::os::unix::fs::symlink(&link, &target)
                    .map_err(io_failure("cannot create symlink", &target))?;
                self.chown(&target, owner)?;
                self.set_xattrs(&target, &xattrs);
                set_mtime(&target, mtime)?;
            }
            EntryType::Link => {
                let link = entry.link_name()?.ok_or_else(|| {
                    Failure::Invalid(format!("hardlink {} has no target", raw_path.display()))
                })?;
                let source_relative = confined(&link)?;
                self.check_no_symlink_parents(&source_relative)?;
                let source = self.root.join(&source_relative);
                let source_kind = fs::symlink_metadata(&source).map_err(|_| {
                    Failure::Invalid(format!(
                        "hardlink {} points to {}, which is not earlier in the same layer",
                        raw_path.display(),
                        link.display()
                    ))
                })?;
                if source_kind.is_dir() {
                    return Err(Failure::Invalid(format!(
                        "hardlink {} points to directory {}",
                        raw_path.display(),
                        link.display()
                    )));
                }
                if source != target {
                    remove_existing(&target)?;
                    fs::hard_link(&source, &target)
                        .map_err(io_failure("cannot create hardlink", &target))?;
                }
            }
            EntryType::Char | EntryType::Block | EntryType::Fifo => {
                remove_existing(&target)?;
                if kind == EntryType::Fifo {
                    nix::unistd::mkfifo(&target, Mode::from_bits_truncate(0o600))
                        .map_err(nix_failure("cannot create fifo", &target))?;
                } else if self.privileged {
                    let major = entry.header().device_major()?.unwrap_or(0);
                    let minor = entry.header().device_minor()?.unwrap_or(0);
                    let node_kind = if kind == EntryType::Char {
                        SFlag::S_IFCHR
                    } else {
                        SFlag::S_IFBLK
                    };
                    let created = nix::sys::stat::mknod(
                        &target,
                        node_kind,
                        Mode::from_bits_truncate(0o600),
                        libc::makedev(major, minor),
                    );
                    match created {
                        Ok(()) => {}
                        Err(nix::Error::EPERM) => {
                            tracing::warn!(
                                path = %raw_path.display(),
                                "skipping device node: this process may not create devices"
                            );
                            return Ok(());
                        }
                        Err(e) => return Err(nix_failure("cannot create device node", &target)(e)),
                    }
                } else {
                    tracing::warn!(
                        path = %raw_path.display(),
                        "skipping device node: creating it needs root"
                    );
                    return Ok(());
                }
                self.chown(&target, owner)?;
                set_mode(&target, mode)?;
                set_mtime(&target, mtime)?;
            }
            other => {
                tracing::warn!(path = %raw_path.display(), kind = ?other, "skipping unsupported tar entry type");
            }
        }
        Ok(())
    }

    /// Applies deferred directory modes and mtimes, deepest first. A directory that a
    /// later entry replaced (possibly by a symlink) is skipped: chmod follows symlinks.
    fn finish(&mut self) -> Result<(), Failure> {
        for dir in self.deferred.drain(..).rev() {
            if !fs::symlink_metadata(&dir.path).is_ok_and(|m| m.is_dir()) {
                continue;
            }
            set_mode(&dir.path, dir.mode)?;
            set_mtime(&dir.path, dir.mtime)?;
        }
        Ok(())
    }

    /// Creates missing parent directories of `relative` and returns the parent's full path.
    /// Rejects a parent that is a symlink or not a directory.
    fn prepare_parents(&self, relative: &Path) -> Result<PathBuf, Failure> {
        let mut current = self.root.to_path_buf();
        let Some(parent) = relative.parent() else {
            return Ok(current);
        };
        for component in parent.components() {
            current.push(component);
            match fs::symlink_metadata(&current) {
                Ok(m) if m.is_dir() => {}
                Ok(m) if m.file_type().is_symlink() => {
                    return Err(Failure::Invalid(format!(
                        "entry {} passes through symlink {}",
                        relative.display(),
                        current
                            .strip_prefix(self.root)
                            .unwrap_or(&current)
                            .display()
                    )))
                }
                Ok(_) => {
                    return Err(Failure::Invalid(format!(
                        "entry {} passes through non-directory {}",
                        relative.display(),
                        current
                            .strip_prefix(self.root)
                            .unwrap_or(&current)
                            .display()
                    )))
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    fs::create_dir(&current)
                        .map_err(io_failure("cannot create directory", &current))?;
                    set_mode(&current, 0o755)?;
                }
                Err(e) => return Err(Failure::Io(format!("inspecting {}", current.display()), e)),
            }
        }
        Ok(current)
    }

    /// Like [`Self::prepare_parents`] but creates nothing.
    fn check_no_symlink_parents(&self, relative: &Path) -> Result<(), Failure> {
        let mut current = self.root.to_path_buf();
        for component in relative.parent().into_iter().flat_map(Path::components) {
            current.push(component);
            if fs::symlink_metadata(&current).is_ok_and(|m| !m.is_dir()) {
                return Err(Failure::Invalid(format!(
                    "hardlink target {} passes through a non-directory",
                    relative.display()
                )));
            }
        }
        Ok(())
    }

    fn make_directory(&self, target: &Path) -> Result<(), Failure> {
        match fs::symlink_metadata(target) {
            Ok(m) if m.is_dir() => Ok(()),
            Ok(_) => {
                fs::remove_file(target).map_err(io_failure("cannot replace", target))?;
                fs::create_dir(target).map_err(io_failure("cannot create directory", target))
            }
            Err(_) => fs::create_dir(target).map_err(io_failure("cannot create directory", target)),
        }
    }

    fn whiteout(&mut self, dir: &Path, hidden: &str, owner: (u32, u32)) -> Result<(), Failure> {
        let target = dir.join(hidden);
        if fs::symlink_metadata(&target).is_ok() {
            // A real entry of this same layer wins over its whiteout.
            return Ok(());
        }
        if self.privileged {
            match nix::sys::stat::mknod(&target, SFlag::S_IFCHR, Mode::empty(), 0) {
                Ok(()) => return self.chown(&target, owner),
                // Root without CAP_MKNOD (a user namespace): fall back like a normal user.
                Err(nix::Error::EPERM) => {}
                Err(e) => return Err(nix_failure("cannot create whiteout", &target)(e)),
            }
        }
        self.warn_unprivileged();
        let marker = dir.join(format!("{WHITEOUT_PREFIX}{hidden}"));
        File::create(&marker).map_err(io_failure("cannot create whiteout marker", &marker))?;
        Ok(())
    }

    fn mark_opaque(&mut self, dir: &Path) -> Result<(), Failure> {
        match xattr::set(dir, OPAQUE_XATTR, b"y") {
            Ok(()) => Ok(()),
            Err(e) if !self.privileged || e.raw_os_error() == Some(libc::EPERM) => {
                self.warn_unprivileged();
                xattr::set(dir, USER_OPAQUE_XATTR, b"y")
                    .map_err(io_failure("cannot mark directory opaque", dir))
            }
            Err(e) => Err(Failure::Io(
                format!("cannot mark directory opaque {}", dir.display()),
                e,
            )),
        }
    }

    fn warn_unprivileged(&mut self) {
        if !self.warned_unprivileged {
            self.warned_unprivileged = true;
            tracing::warn!(
                "not running as root: whiteouts stay .wh.* files and opaque directories use \
                 user.overlay.opaque; mount overlayfs with userxattr or run as root"
            );
        }
    }

    fn chown(&self, path: &Path, (uid, gid): (u32, u32)) -> Result<(), Failure> {
        if !self.privileged {
            return Ok(());
        }
        std::os::unix::fs::lchown(path, Some(uid), Some(gid))
            .map_err(io_failure("cannot set owner of", path))
    }

    fn set_xattrs(&self, path: &Path, xattrs: &[(String, Vec<u8>)]) {
        for (name, value) in xattrs {
            if let Err(e) = xattr::set(path, name, value) {
                tracing::warn!(path = %path.display(), xattr = %name, error = %e, "cannot set xattr from layer");
            }
        }
    }
}

/// Makes an entry path relative to the layer root, rejecting anything that could escape it.
fn confined(path: &Path) -> Result<PathBuf, Failure> {
    let mut clean = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => clean.push(part),
            Component::CurDir | Component::RootDir => {}
            Component::ParentDir | Component::Prefix(_) => {
                return Err(Failure::Invalid(format!(
                    "entry {} escapes the layer root",
                    path.display()
                )))
            }
        }
    }
    Ok(clean)
}

fn id(value: u64) -> Result<u32, Failure> {
    u32::try_from(value).map_err(|_| Failure::Invalid(format!("owner id {value} is out of range")))
}

/// `SCHILY.xattr.*` records of the entry, minus overlayfs's own attributes, which a layer
/// must not be able to plant (they change how overlayfs resolves paths).
fn pax_xattrs<R: Read>(entry: &mut tar::Entry<'_, R>) -> Result<Vec<(String, Vec<u8>)>, Failure> {
    let mut xattrs = Vec::new();
    let Some(extensions) = entry.pax_extensions()? else {
        return Ok(xattrs);
    };
    for extension in extensions {
        let extension = extension?;
        let Ok(key) = extension.key() else { continue };
        let Some(name) = key.strip_prefix("SCHILY.xattr.") else {
            continue;
        };
        if name.starts_with("trusted.overlay.") || name.starts_with("user.overlay.") {
            tracing::warn!(xattr = %name, "ignoring overlayfs xattr carried by a layer");
            continue;
        }
        xattrs.push((name.to_owned(), extension.value_bytes().to_vec()));
    }
    Ok(xattrs)
}

/// Copies an entry's contents, telling archive read errors from local write errors.
fn copy_contents(entry: &mut impl Read, file: &mut File, target: &Path) -> Result<(), Failure> {
    use std::io::Write;
    let mut buffer = vec![0u8; 128 << 10];
    loop {
        let n = entry.read(&mut buffer)?;
        if n == 0 {
            return Ok(());
        }
        file.write_all(&buffer[..n])
            .map_err(io_failure("cannot write", target))?;
    }
}

fn remove_existing(target: &Path) -> Result<(), Failure> {
    match fs::symlink_metadata(target) {
        Ok(m) if m.is_dir() => {
            fs::remove_dir_all(target).map_err(io_failure("cannot replace", target))
        }
        Ok(_) => fs::remove_file(target).map_err(io_failure("cannot replace", target)),
        Err(_) => Ok(()),
    }
}

fn set_mode(path: &Path, mode: u32) -> Result<(), Failure> {
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .map_err(io_failure("cannot set mode of", path))
}

fn set_mtime(path: &Path, mtime: i64) -> Result<(), Failure> {
    let time = TimeSpec::new(mtime, 0);
    nix::sys::stat::utimensat(
        nix::fcntl::AT_FDCWD,
        path,
        &time,
        &time,
        UtimensatFlags::NoFollowSymlink,
    )
    .map_err(nix_failure("cannot set mtime of", path))
}
