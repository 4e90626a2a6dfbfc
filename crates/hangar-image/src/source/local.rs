//! Local image sources: OCI layout directories, tars of them, and `docker save` archives.
//!
//! Archives are never extracted: one pass records where each member's bytes lie, and
//! blobs are then read straight out of the archive file.

use std::collections::{BTreeSet, HashMap};
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use tar::EntryType;

use crate::digest::{Digest, HashingReader};
use crate::error::ImageError;
use crate::reference::{LocalFormat, LocalReference};
use crate::spec::{
    self, Descriptor, DockerArchiveEntry, Index, Manifest, MAX_CONFIG_BYTES, MAX_MANIFEST_BYTES,
    REF_NAME_ANNOTATION,
};

/// How many symlinks inside an archive are followed before giving up.
const MAX_LINK_HOPS: usize = 8;

/// A member of an archive: where its bytes are, or which member it links to.
#[derive(Clone, Debug)]
enum Member {
    Bytes { offset: u64, size: u64 },
    Link(String),
}

/// Files of a local source, addressed by `/`-separated relative names.
#[derive(Debug)]
enum LocalFiles {
    Directory(PathBuf),
    Archive {
        path: PathBuf,
        members: HashMap<String, Member>,
    },
}

impl LocalFiles {
    fn directory(path: &Path) -> LocalFiles {
        LocalFiles::Directory(path.to_path_buf())
    }

    /// Indexes the members of a tar archive at `path`.
    fn archive(path: &Path, reference: &str) -> Result<LocalFiles, ImageError> {
        let file = File::open(path).map_err(|e| ImageError::io_at("cannot open", path, e))?;
        let mut buffered = BufReader::new(file);
        let magic = buffered
            .fill_buf()
            .map_err(|e| ImageError::io_at("cannot read", path, e))?;
        if magic.starts_with(&[0x1f, 0x8b]) {
            return Err(ImageError::Unsupported {
                reference: reference.to_owned(),
                reason: format!(
                    "{} is gzip-compressed; decompress it first (gunzip) and use the plain tar",
                    path.display()
                ),
            });
        }
        let malformed = |e: io::Error| ImageError::Unsupported {
            reference: reference.to_owned(),
            reason: format!("{} is not a readable tar archive: {e}", path.display()),
        };
        let mut archive = tar::Archive::new(buffered);
        let mut members = HashMap::new();
        for entry in archive.entries().map_err(malformed)? {
            let entry = entry.map_err(malformed)?;
            let Some(name) = entry.path().ok().and_then(|p| member_name(&p)) else {
                continue;
            };
            let kind = entry.header().entry_type();
            let member = match kind {
                EntryType::Regular | EntryType::Continuous => Member::Bytes {
                    offset: entry.raw_file_position(),
                    size: entry.size(),
                },
                EntryType::Symlink | EntryType::Link => {
                    let Some(target) = entry.link_name().ok().flatten() else {
                        continue;
                    };
                    let base = if kind == EntryType::Symlink {
                        Path::new(&name)
                            .parent()
                            .unwrap_or(Path::new(""))
                            .join(target)
                    } else {
                        target.into_owned()
                    };
                    match member_name(&base) {
                        Some(target) => Member::Link(target),
                        None => continue,
                    }
                }
                _ => continue,
            };
            members.insert(name, member);
        }
        Ok(LocalFiles::Archive {
            path: path.to_path_buf(),
            members,
        })
    }

    /// Opens member `name`; `None` when there is no such member.
    pub(crate) fn open(&self, name: &str) -> io::Result<Option<Box<dyn Read + Send>>> {
        match self {
            LocalFiles::Directory(dir) => match File::open(dir.join(name)) {
                Ok(file) => Ok(Some(Box::new(file))),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(e),
            },
            LocalFiles::Archive { path, members } => {
                let mut current = name.to_owned();
                for _ in 0..MAX_LINK_HOPS {
                    match members.get(&current) {
                        None => return Ok(None),
                        Some(Member::Link(target)) => current = target.clone(),
                        Some(Member::Bytes { offset, size }) => {
                            let mut file = File::open(path)?;
                            file.seek(SeekFrom::Start(*offset))?;
                            return Ok(Some(Box::new(file.take(*size))));
                        }
                    }
                }
                Ok(None)
            }
        }
    }

    /// The size of member `name`; `None` when there is no such member.
    fn size(&self, name: &str) -> io::Result<Option<u64>> {
        match self {
            LocalFiles::Directory(dir) => match std::fs::metadata(dir.join(name)) {
                Ok(m) => Ok(Some(m.len())),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(e),
            },
            LocalFiles::Archive { members, .. } => {
                let mut current = name;
                for _ in 0..MAX_LINK_HOPS {
                    match members.get(current) {
                        None => return Ok(None),
                        Some(Member::Link(target)) => current = target,
                        Some(Member::Bytes { size, .. }) => return Ok(Some(*size)),
                    }
                }
                Ok(None)
            }
        }
    }

    /// Reads member `name` whole, refusing more than `max` bytes.
    fn read(&self, name: &str, max: u64) -> io::Result<Option<Vec<u8>>> {
        let Some(reader) = self.open(name)? else {
            return Ok(None);
        };
        let mut bytes = Vec::new();
        reader.take(max + 1).read_to_end(&mut bytes)?;
        if bytes.len() as u64 > max {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{name} is larger than {max} bytes"),
            ));
        }
        Ok(Some(bytes))
    }

    /// Where this source is, for messages.
    fn location(&self) -> &Path {
        match self {
            LocalFiles::Directory(p) => p,
            LocalFiles::Archive { path, .. } => path,
        }
    }
}

/// `/`-joined normal components of `path`, or `None` if it tries to leave the archive root.
fn member_name(path: &Path) -> Option<String> {
    let mut parts: Vec<String> = Vec::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => parts.push(part.to_str()?.to_owned()),
            Component::CurDir | Component::RootDir => {}
            Component::ParentDir => {
                parts.pop()?;
            }
            Component::Prefix(_) => return None,
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

/// An opened local source: its files, plus blobs synthesised in memory (the manifest of a
/// `docker save` archive) and members known by digest under other names.
#[derive(Debug)]
pub(crate) struct LocalSource {
    reference: String,
    files: LocalFiles,
    in_memory: HashMap<Digest, Vec<u8>>,
    aliases: HashMap<Digest, String>,
}

/// The manifest (or index) a local reference points at, before platform selection.
pub(crate) struct LocalTop {
    pub descriptor: Descriptor,
    /// The tag the image was selected by, if any.
    pub tag: Option<String>,
}

impl LocalSource {
    /// Opens the source and finds the top-level manifest the reference selects.
    pub(crate) fn open(
        reference: &str,
        local: &LocalReference,
    ) -> Result<(Arc<LocalSource>, LocalTop), ImageError> {
        match local.format {
            LocalFormat::OciLayout => {
                if !local.path.is_dir() {
                    return Err(ImageError::NotFound {
                        reference: reference.to_owned(),
                        detail: format!(
                            "{} is not a directory; oci:PATH must name an OCI image layout directory",
                            local.path.display()
                        ),
                    });
                }
                Self::open_layout(reference, local, LocalFiles::directory(&local.path))
            }
            LocalFormat::OciArchive => {
                let files = LocalFiles::archive(&local.path, reference)?;
                Self::open_layout(reference, local, files)
            }
            LocalFormat::DockerArchive => {
                let files = LocalFiles::archive(&local.path, reference)?;
                Self::open_docker_archive(reference, local, files)
            }
        }
    }

    fn open_layout(
        reference: &str,
        local: &LocalReference,
        files: LocalFiles,
    ) -> Result<(Arc<LocalSource>, LocalTop), ImageError> {
        let not_layout = |why: String| ImageError::NotFound {
            reference: reference.to_owned(),
            detail: format!(
                "{} is not an OCI image layout: {why}",
                files.location().display()
            ),
        };
        let index_bytes = files
            .read("index.json", MAX_MANIFEST_BYTES)
            .map_err(|e| not_layout(format!("cannot read index.json: {e}")))?
            .ok_or_else(|| not_layout("it has no index.json".to_owned()))?;
        let index: Index = serde_json::from_slice(&index_bytes)
            .map_err(|e| not_layout(format!("index.json is malformed: {e}")))?;
        let named = |d: &Descriptor| {
            d.annotations
                .as_ref()
                .and_then(|a| a.get(REF_NAME_ANNOTATION))
                .cloned()
        };
        let chosen = match &local.tag {
            Some(tag) => index
                .manifests
                .iter()
                .find(|d| {
                    named(d).is_some_and(|name| {
                        &name == tag || name.rsplit_once(':').is_some_and(|(_, t)| t == tag)
                    })
                })
                .ok_or_else(|| ImageError::NotFound {
                    reference: reference.to_owned(),
                    detail: format!(
                        "no image tagged {tag:?} in {}; it has {}",
                        files.location().display(),
                        describe_names(index.manifests.iter().filter_map(named))
                    ),
                })?,
            None => match index.manifests.as_slice() {
                [] => {
                    return Err(ImageError::NotFound {
                        reference: reference.to_owned(),
                        detail: format!("{} holds no images", files.location().display()),
                    })
                }
                [only] => only,
                several => several
                    .iter()
                    .find(|d| named(d).as_deref() == Some("latest"))
                    .ok_or_else(|| ImageError::InvalidReference {
                        reference: reference.to_owned(),
                        reason: format!(
                            "{} holds {} images; name one with {}:PATH:TAG (tags: {})",
                            files.location().display(),
                            several.len(),
                            local.format.transport(),
                            describe_names(several.iter().filter_map(named))
                        ),
                    })?,
            },
        };
        let top = LocalTop {
            descriptor: chosen.clone(),
            tag: local.tag.clone().or_else(|| named(chosen)),
        };
        let source = LocalSource {
            reference: reference.to_owned(),
            files,
            in_memory: HashMap::new(),
            aliases: HashMap::new(),
        };
        Ok((Arc::new(source), top))
    }

    /// Turns a `docker save` archive into an OCI manifest held in memory.
    fn open_docker_archive(
        reference: &str,
        local: &LocalReference,
        files: LocalFiles,
    ) -> Result<(Arc<LocalSource>, LocalTop), ImageError> {
        let not_archive = |why: String| ImageError::NotFound {
            reference: reference.to_owned(),
            detail: format!(
                "{} is not a `docker save` archive: {why}",
                files.location().display()
            ),
        };
        let listing = files
            .read("manifest.json", MAX_MANIFEST_BYTES)
            .map_err(|e| not_archive(format!("cannot read manifest.json: {e}")))?
            .ok_or_else(|| not_archive("it has no manifest.json".to_owned()))?;
        let entries: Vec<DockerArchiveEntry> = serde_json::from_slice(&listing)
            .map_err(|e| not_archive(format!("manifest.json is malformed: {e}")))?;
        let tags_of = |e: &DockerArchiveEntry| e.repo_tags.clone().unwrap_or_default();
        let all_tags = || describe_names(entries.iter().flat_map(tags_of));
        let (entry, tag) = match &local.tag {
            Some(wanted) => {
                let found = entries.iter().find_map(|e| {
                    tags_of(e)
                        .into_iter()
                        .find(|t| t == wanted || t.rsplit_once(':').is_some_and(|(_, x)| x == wanted))
                        .map(|t| (e, Some(t)))
                });
                found.ok_or_else(|| ImageError::NotFound {
                    reference: reference.to_owned(),
                    detail: format!("no image tagged {wanted:?} in the archive; it has {}", all_tags()),
                })?
            }
            None => match entries.as_slice() {
                [only] => (only, tags_of(only).into_iter().next()),
                [] => return Err(not_archive("manifest.json lists no images".to_owned())),
                several => {
                    return Err(ImageError::InvalidReference {
                        reference: reference.to_owned(),
                        reason: format!(
                            "the archive holds {} images; name one with docker-archive:PATH:TAG (tags: {})",
                            several.len(),
                            all_tags()
                        ),
                    })
                }
            },
        };

        let mut aliases = HashMap::new();
        let config_name = member_name(Path::new(&entry.config))
            .ok_or_else(|| not_archive(format!("bad config path {:?}", entry.config)))?;
        let config_bytes = files
            .read(&config_name, MAX_CONFIG_BYTES)
            .map_err(|e| not_archive(format!("cannot read {config_name}: {e}")))?
            .ok_or_else(|| not_archive(format!("config {config_name} is missing")))?;
        let config_digest = Digest::of(&config_bytes);
        if let Some(named) = digest_in_name(&config_name) {
            if named != config_digest {
                return Err(ImageError::DigestMismatch {
                    what: format!("config {config_name} of {reference}"),
                    expected: named.to_string(),
                    actual: config_digest.to_string(),
                });
            }
        }
        aliases.insert(config_digest.clone(), config_name);
        let config: spec::ConfigFile = serde_json::from_slice(&config_bytes)
            .map_err(|e| not_archive(format!("image config is malformed: {e}")))?;
        let diff_ids = config.rootfs.map(|r| r.diff_ids).unwrap_or_default();

        let mut layers = Vec::new();
        for (i, layer_path) in entry.layers.iter().enumerate() {
            let name = member_name(Path::new(layer_path))
                .ok_or_else(|| not_archive(format!("bad layer path {layer_path:?}")))?;
            let descriptor = describe_docker_layer(&files, &name, diff_ids.get(i))
                .map_err(|e| ImageError::io(format!("reading layer {name} of {reference}"), e))?
                .ok_or_else(|| not_archive(format!("layer {name} is missing")))?;
            let digest = Digest::parse(&descriptor.digest)
                .map_err(|e| not_archive(format!("layer {name}: {e}")))?;
            aliases.insert(digest, name);
            layers.push(descriptor);
        }
        let manifest = Manifest {
            schema_version: 2,
            media_type: Some(spec::OCI_MANIFEST.to_owned()),
            config: Descriptor {
                media_type: spec::OCI_CONFIG.to_owned(),
                digest: config_digest.to_string(),
                size: config_bytes.len() as u64,
                platform: None,
                annotations: None,
            },
            layers,
        };
        let manifest_bytes = serde_json::to_vec(&manifest)
            .map_err(|e| ImageError::io("serialising a manifest", io::Error::other(e)))?;
        let manifest_digest = Digest::of(&manifest_bytes);
        let descriptor = Descriptor {
            media_type: spec::OCI_MANIFEST.to_owned(),
            digest: manifest_digest.to_string(),
            size: manifest_bytes.len() as u64,
            platform: None,
            annotations: None,
        };
        let source = LocalSource {
            reference: reference.to_owned(),
            files,
            in_memory: HashMap::from([(manifest_digest, manifest_bytes)]),
            aliases,
        };
        Ok((Arc::new(source), LocalTop { descriptor, tag }))
    }

    fn name_of(&self, digest: &Digest) -> String {
        self.aliases
            .get(digest)
            .cloned()
            .unwrap_or_else(|| format!("blobs/sha256/{}", digest.hex()))
    }

    /// Reads a small blob (manifest, index, config) whole, verifying its digest.
    pub(crate) fn read_blob(&self, digest: &Digest, max: u64) -> Result<Vec<u8>, ImageError> {
        if let Some(bytes) = self.in_memory.get(digest) {
            return Ok(bytes.clone());
        }
        let name = self.name_of(digest);
        let bytes = self
            .files
            .read(&name, max)
            .map_err(|e| ImageError::io(format!("reading {name} of {}", self.reference), e))?
            .ok_or_else(|| self.missing(digest))?;
        let actual = Digest::of(&bytes);
        if &actual != digest {
            return Err(ImageError::DigestMismatch {
                what: format!("blob {name} of {}", self.reference),
                expected: digest.to_string(),
                actual: actual.to_string(),
            });
        }
        Ok(bytes)
    }

    /// Opens a layer blob for streaming; the unpacker verifies it.
    pub(crate) fn open_blob(&self, digest: &Digest) -> Result<Box<dyn Read + Send>, ImageError> {
        let name = self.name_of(digest);
        self.files
            .open(&name)
            .map_err(|e| ImageError::io(format!("opening {name} of {}", self.reference), e))?
            .ok_or_else(|| self.missing(digest))
    }

    fn missing(&self, digest: &Digest) -> ImageError {
        ImageError::NotFound {
            reference: self.reference.clone(),
            detail: format!(
                "blob {digest} is missing from {}",
                self.files.location().display()
            ),
        }
    }
}

/// A descriptor for a `docker save` layer member. Plain tars take their diff ID as digest
/// (verified when unpacked); compressed ones are hashed, unless their name is their digest.
fn describe_docker_layer(
    files: &LocalFiles,
    name: &str,
    diff_id: Option<&String>,
) -> io::Result<Option<Descriptor>> {
    let Some(reader) = files.open(name)? else {
        return Ok(None);
    };
    let mut reader = BufReader::new(HashingReader::new(reader));
    let compressed = reader.fill_buf()?.starts_with(&[0x1f, 0x8b]);
    let media_type = if compressed {
        spec::OCI_LAYER_GZIP
    } else {
        spec::OCI_LAYER_TAR
    };
    let known = digest_in_name(name).or_else(|| {
        (!compressed)
            .then(|| diff_id.and_then(|d| Digest::parse(d).ok()))
            .flatten()
    });
    let (digest, size) = match known {
        Some(digest) => (digest, files.size(name)?.unwrap_or(0)),
        None => {
            io::copy(&mut reader, &mut io::sink())?;
            let (_, digest, size) = reader.into_inner().finish();
            (digest, size)
        }
    };
    Ok(Some(Descriptor {
        media_type: media_type.to_owned(),
        digest: digest.to_string(),
        size,
        platform: None,
        annotations: None,
    }))
}

/// The digest spelled by names like `blobs/sha256/<hex>` or `<hex>.json`.
fn digest_in_name(name: &str) -> Option<Digest> {
    let last = name.rsplit('/').next()?;
    let hex = last.strip_suffix(".json").unwrap_or(last);
    let digest = Digest::from_hex(hex)?;
    let in_blobs = name.contains("sha256/") || last.ends_with(".json");
    in_blobs.then_some(digest)
}

fn describe_names(names: impl Iterator<Item = String>) -> String {
    let names: BTreeSet<String> = names.collect();
    if names.is_empty() {
        "no tags".to_owned()
    } else {
        names.into_iter().collect::<Vec<_>>().join(", ")
    }
}
