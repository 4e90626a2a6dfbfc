//! Writing OCI image layouts without Docker, deterministically: the same files, modes and
//! owners always give the same digests (entries sorted by name, mtimes zero, no user or
//! group names, fixed gzip settings).

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File};
use std::io::{self, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use flate2::write::GzEncoder;
use flate2::Compression;
use tar::{EntryType, Header};

use crate::blobs::write_atomically;
use crate::config::ImageConfig;
use crate::digest::{Digest, HashingWriter};
use crate::error::ImageError;
use crate::scratch::ScratchPath;
use crate::spec::{
    self, ConfigFile, ContainerConfig, Descriptor, Index, LayoutMarker, Manifest, RootFs,
    REF_NAME_ANNOTATION,
};

/// Writes a one-layer image of `rootfs` into the OCI layout `out_dir` under `tag` and
/// returns the manifest digest (`sha256:…`). An existing layout gains the image (replacing
/// whatever had the same tag).
pub fn write_oci_layout(
    out_dir: &Path,
    rootfs: &Path,
    config: &ImageConfig,
    tag: &str,
) -> Result<String, ImageError> {
    let writer = LayoutWriter::create(out_dir)?;
    let layer = writer.add_layer_from_directory(rootfs)?;
    writer.add_image(&[layer], config, tag)
}

/// A layer blob written into a layout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayerBlob {
    /// Digest of the blob as stored.
    pub digest: String,
    /// Digest of the uncompressed tar.
    pub diff_id: String,
    /// Size of the blob in bytes.
    pub size: u64,
    /// OCI media type (`…tar+gzip` or `…tar`).
    pub media_type: String,
}

/// Builds images in an OCI image layout directory.
#[derive(Debug)]
pub struct LayoutWriter {
    dir: PathBuf,
}

impl LayoutWriter {
    /// Creates the layout skeleton (`oci-layout`, `blobs/sha256/`) if missing.
    pub fn create(dir: &Path) -> Result<LayoutWriter, ImageError> {
        let blobs = dir.join("blobs/sha256");
        fs::create_dir_all(&blobs).map_err(|e| ImageError::io_at("cannot create", &blobs, e))?;
        let marker = serde_json::to_vec(&LayoutMarker {
            image_layout_version: "1.0.0".to_owned(),
        })
        .map_err(json_error)?;
        let marker_path = dir.join("oci-layout");
        fs::write(&marker_path, marker)
            .map_err(|e| ImageError::io_at("cannot write", &marker_path, e))?;
        Ok(LayoutWriter {
            dir: dir.to_path_buf(),
        })
    }

    fn blobs(&self) -> PathBuf {
        self.dir.join("blobs/sha256")
    }

    /// Stores `bytes` as a blob and returns its digest.
    pub fn add_blob(&self, bytes: &[u8]) -> Result<String, ImageError> {
        let digest = Digest::of(bytes);
        let path = self.blobs().join(digest.hex());
        if !path.exists() {
            write_atomically(&self.blobs(), &path, bytes)?;
        }
        Ok(digest.to_string())
    }

    /// Stores a gzip-compressed tar of `rootfs` as a layer.
    pub fn add_layer_from_directory(&self, rootfs: &Path) -> Result<LayerBlob, ImageError> {
        let scratch = ScratchPath::new(&self.blobs(), "layer");
        let file = File::create(scratch.path())
            .map_err(|e| ImageError::io_at("cannot create", scratch.path(), e))?;
        let compressed = HashingWriter::new(io::BufWriter::new(file));
        let gzip = GzEncoder::new(compressed, Compression::default());
        let mut builder = tar::Builder::new(HashingWriter::new(gzip));
        append_tree(&mut builder, rootfs)
            .map_err(|e| ImageError::io(format!("archiving {}", rootfs.display()), e))?;
        let finish = || -> io::Result<(Digest, Digest, u64)> {
            let (gzip, diff_id, _) = builder.into_inner()?.finish();
            let (buffered, digest, size) = gzip.finish()?.finish();
            buffered
                .into_inner()
                .map_err(|e| e.into_error())?
                .sync_all()?;
            Ok((digest, diff_id, size))
        };
        let (digest, diff_id, size) =
            finish().map_err(|e| ImageError::io_at("cannot write", scratch.path(), e))?;
        let target = self.blobs().join(digest.hex());
        fs::rename(scratch.path(), &target)
            .map_err(|e| ImageError::io_at("cannot move into place", &target, e))?;
        scratch.keep();
        Ok(LayerBlob {
            digest: digest.to_string(),
            diff_id: diff_id.to_string(),
            size,
            media_type: spec::OCI_LAYER_GZIP.to_owned(),
        })
    }

    /// Stores a prepared layer tar, gzip-compressing it when `compress` is true.
    pub fn add_layer_from_tar(&self, tar: &[u8], compress: bool) -> Result<LayerBlob, ImageError> {
        let diff_id = Digest::of(tar).to_string();
        let (bytes, media_type) = if compress {
            let mut gzip = GzEncoder::new(Vec::new(), Compression::default());
            gzip.write_all(tar)
                .map_err(|e| ImageError::io("compressing a layer", e))?;
            let bytes = gzip
                .finish()
                .map_err(|e| ImageError::io("compressing a layer", e))?;
            (bytes, spec::OCI_LAYER_GZIP)
        } else {
            (tar.to_vec(), spec::OCI_LAYER_TAR)
        };
        let digest = self.add_blob(&bytes)?;
        Ok(LayerBlob {
            digest,
            diff_id,
            size: bytes.len() as u64,
            media_type: media_type.to_owned(),
        })
    }

    /// Writes the config and manifest for `layers` (bottom first), tags the manifest in
    /// index.json and returns its digest.
    pub fn add_image(
        &self,
        layers: &[LayerBlob],
        config: &ImageConfig,
        tag: &str,
    ) -> Result<String, ImageError> {
        let config_file = ConfigFile {
            architecture: Some(spec::host_architecture().to_owned()),
            os: Some("linux".to_owned()),
            config: Some(ContainerConfig::from(config)),
            rootfs: Some(RootFs {
                kind: "layers".to_owned(),
                diff_ids: layers.iter().map(|l| l.diff_id.clone()).collect(),
            }),
        };
        let config_bytes = serde_json::to_vec(&config_file).map_err(json_error)?;
        let config_digest = self.add_blob(&config_bytes)?;
        let manifest = Manifest {
            schema_version: 2,
            media_type: Some(spec::OCI_MANIFEST.to_owned()),
            config: descriptor(spec::OCI_CONFIG, config_digest, config_bytes.len() as u64),
            layers: layers
                .iter()
                .map(|l| descriptor(&l.media_type, l.digest.clone(), l.size))
                .collect(),
        };
        let manifest_bytes = serde_json::to_vec(&manifest).map_err(json_error)?;
        let manifest_digest = self.add_blob(&manifest_bytes)?;
        self.tag(tag, spec::OCI_MANIFEST, &manifest_digest)?;
        Ok(manifest_digest)
    }

    /// Points `tag` in index.json at the blob `digest` (a manifest or an index of
    /// `media_type`), replacing any entry with the same tag.
    pub fn tag(&self, tag: &str, media_type: &str, digest: &str) -> Result<(), ImageError> {
        let parsed = Digest::parse(digest).map_err(|reason| ImageError::InvalidReference {
            reference: digest.to_owned(),
            reason,
        })?;
        let blob = self.blobs().join(parsed.hex());
        let size = fs::metadata(&blob)
            .map_err(|e| ImageError::io_at("cannot find blob", &blob, e))?
            .len();
        let index_path = self.dir.join("index.json");
        let mut index = match fs::read(&index_path) {
            Ok(bytes) => serde_json::from_slice::<Index>(&bytes)
                .map_err(|e| ImageError::io_at("cannot parse", &index_path, io::Error::other(e)))?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Index {
                schema_version: 2,
                media_type: Some(spec::OCI_INDEX.to_owned()),
                manifests: Vec::new(),
            },
            Err(e) => return Err(ImageError::io_at("cannot read", &index_path, e)),
        };
        index.manifests.retain(|d| {
            d.annotations
                .as_ref()
                .and_then(|a| a.get(REF_NAME_ANNOTATION))
                .is_none_or(|name| name != tag)
        });
        let mut entry = descriptor(media_type, digest.to_owned(), size);
        entry.annotations = Some(BTreeMap::from([(
            REF_NAME_ANNOTATION.to_owned(),
            tag.to_owned(),
        )]));
        index.manifests.push(entry);
        let bytes = serde_json::to_vec(&index).map_err(json_error)?;
        write_atomically(&self.blobs(), &index_path, &bytes)
    }
}

fn descriptor(media_type: &str, digest: String, size: u64) -> Descriptor {
    Descriptor {
        media_type: media_type.to_owned(),
        digest,
        size,
        platform: None,
        annotations: None,
    }
}

fn json_error(e: serde_json::Error) -> ImageError {
    ImageError::io("serialising image metadata", io::Error::other(e))
}

/// Appends everything under `root` (not `root` itself) in name order.
fn append_tree<W: Write>(builder: &mut tar::Builder<W>, root: &Path) -> io::Result<()> {
    let mut seen_inodes: HashMap<(u64, u64), PathBuf> = HashMap::new();
    let mut pending = vec![PathBuf::new()];
    while let Some(relative_dir) = pending.pop() {
        let mut names: Vec<_> = fs::read_dir(root.join(&relative_dir))?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<io::Result<_>>()?;
        names.sort();
        let mut subdirectories = Vec::new();
        for name in names {
            let relative = relative_dir.join(&name);
            let metadata = fs::symlink_metadata(root.join(&relative))?;
            if metadata.is_dir() {
                append_entry(builder, root, &relative, &metadata, &mut seen_inodes)?;
                subdirectories.push(relative);
            } else {
                append_entry(builder, root, &relative, &metadata, &mut seen_inodes)?;
            }
        }
        // Depth-first in name order: push in reverse so the smallest name is taken first.
        pending.extend(subdirectories.into_iter().rev());
    }
    Ok(())
}

fn append_entry<W: Write>(
    builder: &mut tar::Builder<W>,
    root: &Path,
    relative: &Path,
    metadata: &fs::Metadata,
    seen_inodes: &mut HashMap<(u64, u64), PathBuf>,
) -> io::Result<()> {
    let mut header = Header::new_gnu();
    header.set_mode(metadata.mode() & 0o7777);
    header.set_uid(u64::from(metadata.uid()));
    header.set_gid(u64::from(metadata.gid()));
    header.set_mtime(0);
    header.set_size(0);
    let file_type = metadata.file_type();
    let full = root.join(relative);
    if file_type.is_dir() {
        header.set_entry_type(EntryType::Directory);
        builder.append_data(&mut header, relative, io::empty())
    } else if file_type.is_symlink() {
        header.set_entry_type(EntryType::Symlink);
        builder.append_link(&mut header, relative, fs::read_link(&full)?)
    } else if file_type.is_file() {
        let inode = (metadata.dev(), metadata.ino());
        if metadata.nlink() > 1 {
            if let Some(first) = seen_inodes.get(&inode) {
                header.set_entry_type(EntryType::Link);
                return builder.append_link(&mut header, relative, first);
            }
            seen_inodes.insert(inode, relative.to_path_buf());
        }
        header.set_entry_type(EntryType::Regular);
        header.set_size(metadata.len());
        builder.append_data(&mut header, relative, File::open(&full)?)
    } else if file_type.is_char_device() || file_type.is_block_device() || file_type.is_fifo() {
        let kind = if file_type.is_char_device() {
            EntryType::Char
        } else if file_type.is_block_device() {
            EntryType::Block
        } else {
            EntryType::Fifo
        };
        header.set_entry_type(kind);
        let rdev = metadata.rdev();
        header.set_device_major(libc::major(rdev))?;
        header.set_device_minor(libc::minor(rdev))?;
        builder.append_data(&mut header, relative, io::empty())
    } else {
        // Sockets cannot be archived; they are recreated by whatever listens on them.
        Ok(())
    }
}
