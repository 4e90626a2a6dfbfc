//! Writing the output OCI layout deterministically: layers from explicit file
//! lists (sorted, fixed mtime, given owners, fixed gzip header), an image
//! config with a fixed `created`, a manifest, and the tag in index.json.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use flate2::{Compression, GzBuilder};
use hangar_image::layout::{LayerBlob, LayoutWriter};
use serde::Serialize;
use sha2::{Digest as _, Sha256};
use tar::{EntryType, Header};

use crate::error::BuildError;

pub(crate) const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub(crate) const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub(crate) const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

/// What a layer entry holds.
#[derive(Debug, Clone)]
pub(crate) enum Content {
    Dir,
    /// A regular file copied from the host.
    File(PathBuf),
    /// A regular file with these bytes (from an ADDed archive).
    Bytes(Arc<Vec<u8>>),
    Symlink(PathBuf),
}

/// One file of a layer.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub content: Content,
    /// Permission bits (with setuid/setgid/sticky).
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
}

/// A layer's entries by path inside the image (relative, `/`-separated),
/// which is the order they are written in.
pub(crate) type LayerEntries = BTreeMap<String, Entry>;

/// Writes `entries` as a gzip-compressed tar layer into the layout at `dir`.
pub(crate) fn write_layer(
    dir: &Path,
    entries: &LayerEntries,
    mtime: u64,
) -> Result<LayerBlob, BuildError> {
    let blobs = dir.join("blobs/sha256");
    let scratch = blobs.join(format!(".layer-{}-{}", std::process::id(), next()));
    let result = (|| -> io::Result<LayerBlob> {
        let file = File::create(&scratch)?;
        let compressed = Hashing::new(io::BufWriter::new(file));
        let gzip = GzBuilder::new()
            .mtime(0)
            .operating_system(255)
            .write(compressed, Compression::default());
        let mut builder = tar::Builder::new(Hashing::new(gzip));
        for (path, entry) in entries {
            append(&mut builder, path, entry, mtime)?;
        }
        let (gzip, diff_id, _) = builder.into_inner()?.finish();
        let (buffered, digest, size) = gzip.finish()?.finish();
        buffered
            .into_inner()
            .map_err(|e| e.into_error())?
            .sync_all()?;
        fs::rename(&scratch, blobs.join(&digest))?;
        Ok(LayerBlob {
            digest: format!("sha256:{digest}"),
            diff_id: format!("sha256:{diff_id}"),
            size,
            media_type: OCI_LAYER_GZIP.to_owned(),
        })
    })();
    if result.is_err() {
        let _ = fs::remove_file(&scratch);
    }
    result.map_err(BuildError::io("writing an image layer"))
}

fn append<W: Write>(
    builder: &mut tar::Builder<W>,
    path: &str,
    entry: &Entry,
    mtime: u64,
) -> io::Result<()> {
    let mut header = Header::new_gnu();
    header.set_mode(entry.mode & 0o7777);
    header.set_uid(entry.uid);
    header.set_gid(entry.gid);
    header.set_mtime(mtime);
    header.set_size(0);
    match &entry.content {
        Content::Dir => {
            header.set_entry_type(EntryType::Directory);
            builder.append_data(&mut header, format!("{path}/"), io::empty())
        }
        Content::Symlink(target) => {
            header.set_entry_type(EntryType::Symlink);
            builder.append_link(&mut header, path, target)
        }
        Content::File(source) => {
            let file = File::open(source)?;
            let len = file.metadata()?.len();
            header.set_entry_type(EntryType::Regular);
            header.set_size(len);
            builder.append_data(&mut header, path, file.take(len))
        }
        Content::Bytes(bytes) => {
            header.set_entry_type(EntryType::Regular);
            header.set_size(bytes.len() as u64);
            builder.append_data(&mut header, path, bytes.as_slice())
        }
    }
}

/// Counts bytes and hashes them on their way to `inner`.
struct Hashing<W> {
    inner: W,
    hasher: Sha256,
    size: u64,
}

impl<W> Hashing<W> {
    fn new(inner: W) -> Self {
        Hashing {
            inner,
            hasher: Sha256::new(),
            size: 0,
        }
    }

    fn finish(self) -> (W, String, u64) {
        (self.inner, hex::encode(self.hasher.finalize()), self.size)
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[derive(Serialize)]
struct ConfigFile<'a, C: Serialize> {
    created: String,
    architecture: &'static str,
    os: &'static str,
    config: &'a C,
    rootfs: RootFs,
}

#[derive(Serialize)]
struct RootFs {
    #[serde(rename = "type")]
    kind: &'static str,
    diff_ids: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Descriptor {
    media_type: String,
    digest: String,
    size: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Manifest {
    schema_version: u32,
    media_type: &'static str,
    config: Descriptor,
    layers: Vec<Descriptor>,
}

/// Writes the image config (runtime settings `config`, created at `epoch`),
/// the manifest for `layers`, and tags it; returns the manifest digest.
pub(crate) fn write_image<C: Serialize>(
    writer: &LayoutWriter,
    layers: &[LayerBlob],
    config: &C,
    epoch: u64,
    tag: &str,
) -> Result<String, BuildError> {
    let created = humantime::format_rfc3339_seconds(
        std::time::UNIX_EPOCH + std::time::Duration::from_secs(epoch),
    )
    .to_string();
    let file = ConfigFile {
        created,
        architecture: architecture(),
        os: "linux",
        config,
        rootfs: RootFs {
            kind: "layers",
            diff_ids: layers.iter().map(|l| l.diff_id.clone()).collect(),
        },
    };
    let config_bytes = serde_json::to_vec(&file).map_err(json_error)?;
    let config_digest = writer.add_blob(&config_bytes)?;
    write_manifest(
        writer,
        layers,
        config_digest,
        config_bytes.len() as u64,
        tag,
    )
}

/// Writes a manifest for an existing config blob and tags it.
pub(crate) fn write_manifest(
    writer: &LayoutWriter,
    layers: &[LayerBlob],
    config_digest: String,
    config_size: u64,
    tag: &str,
) -> Result<String, BuildError> {
    let manifest = Manifest {
        schema_version: 2,
        media_type: OCI_MANIFEST,
        config: Descriptor {
            media_type: OCI_CONFIG.to_owned(),
            digest: config_digest,
            size: config_size,
        },
        layers: layers
            .iter()
            .map(|l| Descriptor {
                media_type: l.media_type.clone(),
                digest: l.digest.clone(),
                size: l.size,
            })
            .collect(),
    };
    let bytes = serde_json::to_vec(&manifest).map_err(json_error)?;
    let digest = writer.add_blob(&bytes)?;
    writer.tag(tag, OCI_MANIFEST, &digest)?;
    Ok(digest)
}

/// The digest `tag` points at in the layout's index.json.
pub(crate) fn tagged_digest(dir: &Path, tag: &str) -> Result<String, BuildError> {
    let path = dir.join("index.json");
    let bytes = fs::read(&path).map_err(BuildError::io(format!("reading {}", path.display())))?;
    let index: serde_json::Value = serde_json::from_slice(&bytes).map_err(json_error)?;
    index["manifests"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == tag)
        .and_then(|m| m["digest"].as_str())
        .map(str::to_owned)
        .ok_or_else(|| BuildError::BuilderFailed {
            builder: "buildah".into(),
            message: format!("{} has no image tagged {tag}", path.display()),
        })
}

fn json_error(e: serde_json::Error) -> BuildError {
    BuildError::Io {
        what: "serialising image metadata".into(),
        source: io::Error::other(e),
    }
}

/// The OCI name of this host's architecture.
pub(crate) fn architecture() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

fn next() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    COUNTER.fetch_add(1, Ordering::Relaxed)
}

/// A directory beside the output where a layout is assembled; removed on
/// drop unless moved into place.
pub(crate) struct Scratch {
    path: PathBuf,
    armed: bool,
}

impl Scratch {
    /// A fresh empty directory next to `output`.
    pub(crate) fn beside(output: &Path) -> Result<Scratch, BuildError> {
        let parent = output
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        fs::create_dir_all(parent)
            .map_err(BuildError::io(format!("creating {}", parent.display())))?;
        let name = output
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "image".into());
        let path = parent.join(format!(".{name}.build-{}-{}", std::process::id(), next()));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir(&path).map_err(BuildError::io(format!("creating {}", path.display())))?;
        Ok(Scratch { path, armed: true })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Replaces `output` with the finished layout.
    pub(crate) fn move_to(mut self, output: &Path) -> Result<(), BuildError> {
        if output.exists() {
            fs::remove_dir_all(output)
                .map_err(BuildError::io(format!("replacing {}", output.display())))?;
        }
        fs::rename(&self.path, output).map_err(BuildError::io(format!(
            "moving the image to {}",
            output.display()
        )))?;
        self.armed = false;
        Ok(())
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if self.armed {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}
