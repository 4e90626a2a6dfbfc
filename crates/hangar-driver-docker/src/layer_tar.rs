//! Packing unpacked layer directories into a `docker save` archive that
//! `POST /images/load` accepts (Docker Engine before 25 loads no OCI layouts).
//!
//! Overlayfs whiteouts (character devices 0:0, opaque xattrs) become the
//! `.wh.` entries of layer tars again, so Docker applies deletions as the
//! process driver's overlay mount would.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use hangar_image::overlay;
use sha2::{Digest, Sha256};

/// A writer that hashes what passes through it.
struct Hashing<W> {
    inner: W,
    hasher: Sha256,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Writes `layers` (bottom first) as one image tagged `tag` with `labels` into `out`.
pub(crate) fn write_archive(
    layers: &[PathBuf],
    tag: &str,
    labels: &BTreeMap<String, String>,
    out: File,
) -> io::Result<()> {
    let mut archive = tar::Builder::new(out);
    let mut diff_ids = Vec::new();
    let mut layer_paths = Vec::new();
    for layer in layers {
        let scratch = tempfile::tempfile()?;
        let mut hashing = Hashing {
            inner: scratch,
            hasher: Sha256::new(),
        };
        {
            let mut builder = tar::Builder::new(&mut hashing);
            append_tree(&mut builder, layer, Path::new(""))?;
            builder.finish()?;
        }
        let digest = hex::encode(hashing.hasher.finalize());
        let mut scratch = hashing.inner;
        let size = scratch.metadata()?.len();
        io::Seek::rewind(&mut scratch)?;
        let name = format!("{digest}/layer.tar");
        let mut header = tar::Header::new_gnu();
        header.set_size(size);
        header.set_mode(0o644);
        archive.append_data(&mut header, &name, scratch)?;
        diff_ids.push(format!("sha256:{digest}"));
        layer_paths.push(name);
    }
    let config = serde_json::json!({
        "architecture": docker_architecture(),
        "os": "linux",
        "config": { "Labels": labels },
        "rootfs": { "type": "layers", "diff_ids": diff_ids },
    });
    let config = serde_json::to_vec(&config)?;
    let config_name = format!("{}.json", hex::encode(Sha256::digest(&config)));
    append_bytes(&mut archive, &config_name, &config)?;
    let manifest = serde_json::json!([{
        "Config": config_name,
        "RepoTags": [tag],
        "Layers": layer_paths,
    }]);
    append_bytes(
        &mut archive,
        "manifest.json",
        &serde_json::to_vec(&manifest)?,
    )?;
    archive.into_inner()?.sync_all()
}

fn docker_architecture() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "arm" => "arm",
        other => other,
    }
}

fn append_bytes<W: Write>(
    archive: &mut tar::Builder<W>,
    name: &str,
    data: &[u8],
) -> io::Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_size(data.len() as u64);
    header.set_mode(0o644);
    archive.append_data(&mut header, name, data)
}

/// A header carrying `metadata`'s mode, owner and modification time.
fn header_from(metadata: &std::fs::Metadata, kind: tar::EntryType) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(kind);
    header.set_mode(metadata.mode() & 0o7777);
    header.set_uid(u64::from(metadata.uid()));
    header.set_gid(u64::from(metadata.gid()));
    header.set_mtime(metadata.mtime().max(0) as u64);
    header.set_size(0);
    header
}

/// Appends everything under `root/rel` (not `root` itself), sorted by name.
fn append_tree<W: Write>(builder: &mut tar::Builder<W>, root: &Path, rel: &Path) -> io::Result<()> {
    let dir = root.join(rel);
    let mut names: Vec<_> = std::fs::read_dir(&dir)?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<Result<_, _>>()?;
    names.sort();
    for name in names {
        let rel_path = rel.join(&name);
        let path = root.join(&rel_path);
        let metadata = std::fs::symlink_metadata(&path)?;
        let kind = metadata.file_type();
        if kind.is_dir() {
            let mut header = header_from(&metadata, tar::EntryType::Directory);
            builder.append_data(&mut header, &rel_path, io::empty())?;
            if overlay::is_opaque(&path)? {
                let mut marker = header_from(&metadata, tar::EntryType::Regular);
                marker.set_mode(0o644);
                builder.append_data(
                    &mut marker,
                    rel_path.join(overlay::OPAQUE_MARKER),
                    io::empty(),
                )?;
            }
            append_tree(builder, root, &rel_path)?;
        } else if kind.is_file() {
            let mut header = header_from(&metadata, tar::EntryType::Regular);
            header.set_size(metadata.len());
            builder.append_data(&mut header, &rel_path, File::open(&path)?)?;
        } else if kind.is_symlink() {
            let mut header = header_from(&metadata, tar::EntryType::Symlink);
            let target = std::fs::read_link(&path)?;
            builder.append_link(&mut header, &rel_path, target)?;
        } else if kind.is_char_device() && metadata.rdev() == 0 {
            let mut header = header_from(&metadata, tar::EntryType::Regular);
            let whiteout = format!("{}{}", overlay::WHITEOUT_PREFIX, name.to_string_lossy());
            builder.append_data(&mut header, rel.join(whiteout), io::empty())?;
        } else if kind.is_char_device() || kind.is_block_device() || kind.is_fifo() {
            let entry = if kind.is_fifo() {
                tar::EntryType::Fifo
            } else if kind.is_char_device() {
                tar::EntryType::Char
            } else {
                tar::EntryType::Block
            };
            let mut header = header_from(&metadata, entry);
            let rdev = metadata.rdev();
            header.set_device_major(nix::sys::stat::major(rdev) as u32)?;
            header.set_device_minor(nix::sys::stat::minor(rdev) as u32)?;
            builder.append_data(&mut header, &rel_path, io::empty())?;
        }
        // Sockets carry nothing an image could use; they are left out.
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archive_lists_layers_config_and_tag() {
        let dir = tempfile::tempdir().unwrap();
        let layer = dir.path().join("layer");
        std::fs::create_dir_all(layer.join("bin")).unwrap();
        std::fs::write(layer.join("bin/hello"), "hi").unwrap();
        std::os::unix::fs::symlink("hello", layer.join("bin/alias")).unwrap();
        let out = dir.path().join("image.tar");
        let labels = BTreeMap::from([("k".to_string(), "v".to_string())]);
        write_archive(
            &[layer],
            "hangar.local/x:y",
            &labels,
            File::create(&out).unwrap(),
        )
        .unwrap();
        let mut names = Vec::new();
        let mut manifest = String::new();
        let mut archive = tar::Archive::new(File::open(&out).unwrap());
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            let name = entry.path().unwrap().to_string_lossy().into_owned();
            if name == "manifest.json" {
                io::Read::read_to_string(&mut entry, &mut manifest).unwrap();
            }
            names.push(name);
        }
        assert_eq!(names.len(), 3, "{names:?}");
        assert!(names[0].ends_with("/layer.tar"));
        assert!(manifest.contains("hangar.local/x:y"), "{manifest}");
    }
}
