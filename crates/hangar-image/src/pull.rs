//! Fetching an image from its source: manifest (through an index if needed), config, layers.

use std::fs::File;
use std::sync::Arc;

use crate::digest::Digest;
use crate::error::ImageError;
use crate::layers::is_dir;
use crate::reference::ParsedReference;
use crate::refs::RefRecord;
use crate::scratch::ScratchPath;
use crate::source::local::LocalSource;
use crate::source::registry::RegistrySession;
use crate::source::{run_blocking, Origin};
use crate::spec::{
    host_architecture, ConfigFile, Descriptor, Index, Manifest, ManifestDocument, MAX_CONFIG_BYTES,
    MAX_MANIFEST_BYTES,
};
use crate::store::{describe, ResolvedImage, StoreInner};
use crate::unpack::LayerSpec;

/// How many indexes deep a manifest may be nested.
const MAX_INDEX_DEPTH: usize = 2;

/// Resolves `parsed` from its source and records the result in the store.
pub(crate) async fn pull(
    store: &Arc<StoreInner>,
    reference: &str,
    parsed: &ParsedReference,
) -> Result<ResolvedImage, ImageError> {
    let (mut origin, top, top_digest, tag) = open_origin(store, reference, parsed).await?;
    let (digest, manifest_bytes, manifest) =
        select_manifest(&mut origin, reference, top, top_digest).await?;

    let config_digest = parse_digest(reference, &manifest.config.digest)?;
    let config_bytes = origin.small_blob(&config_digest, MAX_CONFIG_BYTES).await?;
    let config: ConfigFile =
        serde_json::from_slice(&config_bytes).map_err(|e| ImageError::Unsupported {
            reference: reference.to_owned(),
            reason: format!("image config {config_digest} is malformed: {e}"),
        })?;
    check_platform(reference, &config)?;
    let keys = layer_keys(reference, &manifest, &config)?;

    for (descriptor, key) in manifest.layers.iter().zip(&keys) {
        ensure_layer(store, &mut origin, reference, descriptor, key).await?;
    }

    let record = RefRecord {
        reference: parsed.canonical(),
        digest: digest.to_string(),
        tag,
    };
    {
        let store = Arc::clone(store);
        let record = record.clone();
        run_blocking(move || {
            store.blobs.write(&config_digest, &config_bytes)?;
            store.blobs.write(&digest, &manifest_bytes)?;
            store.refs.put(&record)
        })
        .await?;
    }
    Ok(describe(store, reference, parsed, &record, config, &keys))
}

/// The top-level manifest bytes as served, with their content type.
struct Top {
    bytes: Vec<u8>,
    content_type: Option<String>,
}

async fn open_origin(
    store: &StoreInner,
    reference: &str,
    parsed: &ParsedReference,
) -> Result<(Origin, Top, Digest, Option<String>), ImageError> {
    match parsed {
        ParsedReference::Local(local) => {
            let (reference_owned, local) = (reference.to_owned(), local.clone());
            let (source, top) =
                run_blocking(move || LocalSource::open(&reference_owned, &local)).await?;
            let digest = parse_digest(reference, &top.descriptor.digest)?;
            let mut origin = Origin::Local(source);
            let bytes = origin.manifest(&digest, MAX_MANIFEST_BYTES).await?;
            let content_type = Some(top.descriptor.media_type.clone()).filter(|m| !m.is_empty());
            Ok((
                origin,
                Top {
                    bytes,
                    content_type,
                },
                digest,
                top.tag,
            ))
        }
        ParsedReference::Registry(target) => {
            let http = store.http().map_err(|detail| ImageError::Unreachable {
                reference: reference.to_owned(),
                registry: target.registry.clone(),
                detail,
            })?;
            let mut session = RegistrySession::new(
                http,
                reference,
                target,
                &store
                    .credentials
                    .read()
                    .map(|c| c.clone())
                    .unwrap_or_default(),
            );
            let (bytes, content_type) = session.manifest(&target.manifest_selector()).await?;
            let digest = Digest::of(&bytes);
            if let Some(pinned) = &target.digest {
                if pinned != &digest {
                    return Err(ImageError::DigestMismatch {
                        what: format!("manifest served by {} for {reference}", target.registry),
                        expected: pinned.to_string(),
                        actual: digest.to_string(),
                    });
                }
            }
            tracing::info!(reference, %digest, "fetched manifest");
            Ok((
                Origin::Registry(session),
                Top {
                    bytes,
                    content_type,
                },
                digest,
                target.tag.clone(),
            ))
        }
    }
}

/// Follows indexes down to this host's platform manifest.
async fn select_manifest(
    origin: &mut Origin,
    reference: &str,
    top: Top,
    top_digest: Digest,
) -> Result<(Digest, Vec<u8>, Manifest), ImageError> {
    let (mut digest, mut bytes, mut content_type) = (top_digest, top.bytes, top.content_type);
    for _ in 0..=MAX_INDEX_DEPTH {
        let document =
            ManifestDocument::parse(&bytes, content_type.as_deref()).map_err(|reason| {
                ImageError::Unsupported {
                    reference: reference.to_owned(),
                    reason: format!("{digest}: {reason}"),
                }
            })?;
        match document {
            ManifestDocument::Image(manifest) => return Ok((digest, bytes, manifest)),
            ManifestDocument::Index(index) => {
                let chosen = choose_platform(reference, &index)?;
                digest = parse_digest(reference, &chosen.digest)?;
                content_type = Some(chosen.media_type.clone()).filter(|m| !m.is_empty());
                bytes = origin.manifest(&digest, MAX_MANIFEST_BYTES).await?;
            }
        }
    }
    Err(ImageError::Unsupported {
        reference: reference.to_owned(),
        reason: format!("image indexes are nested more than {MAX_INDEX_DEPTH} deep"),
    })
}

/// The index entry for linux on this host's architecture.
fn choose_platform<'a>(reference: &str, index: &'a Index) -> Result<&'a Descriptor, ImageError> {
    let arch = host_architecture();
    let candidates: Vec<&Descriptor> = index
        .manifests
        .iter()
        .filter(|d| {
            d.platform
                .as_ref()
                .is_some_and(|p| p.os == "linux" && p.architecture == arch)
        })
        .collect();
    let preferred_variant = (arch == "arm64").then_some("v8");
    let chosen = candidates
        .iter()
        .find(|d| d.platform.as_ref().and_then(|p| p.variant.as_deref()) == preferred_variant)
        .or_else(|| candidates.first())
        .copied();
    if let Some(chosen) = chosen {
        return Ok(chosen);
    }
    // An index without platforms and with a single entry is a plain wrapper.
    if let [only] = index.manifests.as_slice() {
        if only.platform.is_none() {
            return Ok(only);
        }
    }
    let available: Vec<String> = index
        .manifests
        .iter()
        .filter_map(|d| d.platform.as_ref())
        .filter(|p| p.os != "unknown")
        .map(|p| match &p.variant {
            Some(v) => format!("{}/{}/{v}", p.os, p.architecture),
            None => format!("{}/{}", p.os, p.architecture),
        })
        .collect();
    Err(ImageError::Unsupported {
        reference: reference.to_owned(),
        reason: format!(
            "no linux/{arch} image in the index (it has: {})",
            if available.is_empty() {
                "no platforms".to_owned()
            } else {
                available.join(", ")
            }
        ),
    })
}

fn check_platform(reference: &str, config: &ConfigFile) -> Result<(), ImageError> {
    let arch = host_architecture();
    let os = config.os.as_deref().unwrap_or("linux");
    let image_arch = config.architecture.as_deref().unwrap_or("");
    if os != "linux" || !(image_arch.is_empty() || image_arch == arch) {
        return Err(ImageError::Unsupported {
            reference: reference.to_owned(),
            reason: format!(
                "the image is built for {os}/{image_arch}, this host runs linux/{arch}"
            ),
        });
    }
    Ok(())
}

/// The directory key of each layer: its diff ID from the config.
pub(crate) fn layer_keys(
    reference: &str,
    manifest: &Manifest,
    config: &ConfigFile,
) -> Result<Vec<Digest>, ImageError> {
    let diff_ids = config
        .rootfs
        .as_ref()
        .map(|r| r.diff_ids.as_slice())
        .unwrap_or_default();
    if diff_ids.len() != manifest.layers.len() {
        return Err(ImageError::Unsupported {
            reference: reference.to_owned(),
            reason: format!(
                "the config lists {} layer diff_ids but the manifest has {} layers",
                diff_ids.len(),
                manifest.layers.len()
            ),
        });
    }
    diff_ids
        .iter()
        .map(|d| parse_digest(reference, d))
        .collect()
}

/// Unpacks one layer unless it already is, holding its lock while doing so.
async fn ensure_layer(
    store: &Arc<StoreInner>,
    origin: &mut Origin,
    reference: &str,
    descriptor: &Descriptor,
    key: &Digest,
) -> Result<(), ImageError> {
    if is_dir(&store.layers.path(key)) {
        return Ok(());
    }
    if descriptor.media_type.contains("encrypted") {
        return Err(ImageError::Unsupported {
            reference: reference.to_owned(),
            reason: format!("layer {} is encrypted", descriptor.digest),
        });
    }
    let digest = parse_digest(reference, &descriptor.digest)?;
    let lock = {
        let (store, key) = (Arc::clone(store), key.clone());
        run_blocking(move || store.layers.lock(&key)).await?
    };
    if is_dir(&store.layers.path(key)) {
        return Ok(());
    }
    let (store_for_unpack, reference_owned, key_owned) =
        (Arc::clone(store), reference.to_owned(), key.clone());
    match origin {
        Origin::Local(source) => {
            let source = Arc::clone(source);
            run_blocking(move || {
                let blob = source.open_blob(&digest)?;
                let spec = LayerSpec {
                    reference: &reference_owned,
                    digest: &digest,
                    diff_id: Some(&key_owned),
                };
                store_for_unpack
                    .layers
                    .unpack_into_place(blob, &spec, &key_owned)
                    .map(drop)
            })
            .await?;
        }
        Origin::Registry(session) => {
            let download = ScratchPath::new(&store.tmp, &format!("blob-{}", digest.hex()));
            session
                .blob_to_file(&digest, descriptor.size, download.path())
                .await?;
            run_blocking(move || {
                let blob = File::open(download.path())
                    .map_err(|e| ImageError::io_at("cannot open", download.path(), e))?;
                let spec = LayerSpec {
                    reference: &reference_owned,
                    digest: &digest,
                    diff_id: Some(&key_owned),
                };
                let result = store_for_unpack
                    .layers
                    .unpack_into_place(blob, &spec, &key_owned);
                drop(download);
                result.map(drop)
            })
            .await?;
        }
    }
    drop(lock);
    Ok(())
}

fn parse_digest(reference: &str, text: &str) -> Result<Digest, ImageError> {
    Digest::parse(text).map_err(|reason| ImageError::Unsupported {
        reference: reference.to_owned(),
        reason,
    })
}
