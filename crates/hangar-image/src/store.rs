//! The image store: resolving references into unpacked layers and image config.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use crate::blobs::BlobDir;
use crate::config::ImageConfig;
use crate::digest::Digest;
use crate::error::ImageError;
use crate::layers::LayerDir;
use crate::pull;
use crate::reference::ParsedReference;
use crate::refs::{RefIndex, RefRecord};
use crate::scratch;
use crate::source::registry::{self, Credentials};
use crate::spec::{ConfigFile, Manifest};

/// An image ready to run: its config and its unpacked layers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolvedImage {
    /// The reference as the caller gave it.
    pub reference: String,
    /// Registry host (`docker.io`, `127.0.0.1:5000`), or for local sources the transport
    /// (`oci`, `oci-archive`, `docker-archive`).
    pub registry: String,
    /// Repository path (`library/nginx`), or for local sources the absolute path.
    pub repository: String,
    /// The tag, when the image was named or found by one.
    pub tag: Option<String>,
    /// Digest (`sha256:…`) of the image manifest for this host's platform.
    pub digest: String,
    /// How the image says to run it.
    pub config: ImageConfig,
    /// Unpacked layer directories, bottom layer first. Shared between machines: never
    /// write into them (mount them as overlayfs lower directories).
    pub layers: Vec<PathBuf>,
}

impl ResolvedImage {
    /// The layers as an overlayfs `lowerdir=` value: top layer first, `:`-separated, with
    /// `:`, `,` and `\` in paths escaped. The mount option must fit in one page (4 KiB);
    /// for images with very many layers, mount from a short relative path instead.
    pub fn overlay_lowerdir(&self) -> String {
        self.layers
            .iter()
            .rev()
            .map(|layer| {
                let mut escaped = String::new();
                for c in layer.to_string_lossy().chars() {
                    if matches!(c, ':' | ',' | '\\') {
                        escaped.push('\\');
                    }
                    escaped.push(c);
                }
                escaped
            })
            .collect::<Vec<_>>()
            .join(":")
    }
}

/// A content-addressed image store rooted at one directory:
///
/// - `blobs/sha256/<hex>`: manifests and configs of resolved images;
/// - `layers/sha256/<diff_id>/`: unpacked layers, one directory each;
/// - `refs/<hash>.json`: which manifest each reference resolved to;
/// - `locks/`, `tmp/`: per-layer locks and scratch space.
///
/// Cloning is cheap; clones share the same store.
#[derive(Clone, Debug)]
pub struct ImageStore {
    inner: Arc<StoreInner>,
    /// Image sources this store may use (registry hosts, or `oci`,
    /// `oci-archive`, `docker-archive`); `None` allows every source.
    allowed_sources: Option<Arc<Vec<String>>>,
}

#[derive(Debug)]
pub(crate) struct StoreInner {
    pub root: PathBuf,
    pub tmp: PathBuf,
    pub blobs: BlobDir,
    pub layers: LayerDir,
    pub refs: RefIndex,
    pub credentials: std::sync::RwLock<Credentials>,
    http: OnceLock<Result<reqwest::Client, String>>,
}

impl StoreInner {
    /// The shared HTTP client, built on first use.
    pub(crate) fn http(&self) -> Result<reqwest::Client, String> {
        self.http.get_or_init(registry::http_client).clone()
    }
}

impl ImageStore {
    /// Opens (creating if needed) the store at `root` and removes scratch files left by
    /// processes that died mid-unpack. Registry credentials come from `HANGAR_REGISTRY_AUTH`.
    pub fn open(root: &Path) -> Result<ImageStore, ImageError> {
        let dirs = [
            root.join("blobs/sha256"),
            root.join("layers/sha256"),
            root.join("refs"),
            root.join("locks"),
            root.join("tmp"),
        ];
        for dir in &dirs {
            fs::create_dir_all(dir)
                .map_err(|e| ImageError::io_at("cannot create image store directory", dir, e))?;
        }
        let [blobs, layers, refs, locks, tmp] = dirs;
        scratch::sweep(&tmp);
        Ok(ImageStore {
            inner: Arc::new(StoreInner {
                root: root.to_path_buf(),
                blobs: BlobDir::new(blobs, tmp.clone()),
                layers: LayerDir::new(layers, locks, tmp.clone()),
                refs: RefIndex::new(refs, tmp.clone()),
                tmp,
                credentials: std::sync::RwLock::new(Credentials::from_env()),
                http: OnceLock::new(),
            }),
            allowed_sources: None,
        })
    }

    /// Adds (or replaces) the login used for one registry host (`127.0.0.1:4280`),
    /// on top of `HANGAR_REGISTRY_AUTH`. The platform gives its agent the
    /// platform token for the built-in registry this way.
    pub fn add_registry_login(&self, registry: &str, user: &str, password: &str) {
        if let Ok(mut credentials) = self.inner.credentials.write() {
            credentials.insert(registry, user, password);
        }
    }

    /// The directory the store lives in.
    pub fn root(&self) -> &Path {
        &self.inner.root
    }

    /// Resolves `reference`, fetching and unpacking what is not cached.
    ///
    /// Registry references already resolved are answered from the cache without network
    /// access (use [`ImageStore::pull`] to look for a newer image behind a tag). Local
    /// references (`oci:`, `oci-archive:`, `docker-archive:`) are re-read every time, which
    /// is cheap: layers already unpacked are reused.
    pub async fn resolve(&self, reference: &str) -> Result<ResolvedImage, ImageError> {
        let parsed = ParsedReference::parse(reference)?;
        self.check_source(reference, &parsed)?;
        if let ParsedReference::Registry(_) = parsed {
            if let Some(image) = self.load_cached(reference, &parsed) {
                return Ok(image);
            }
        }
        pull::pull(&self.inner, reference, &parsed).await
    }

    /// Restricts the sources images may come from: registry hosts
    /// (`127.0.0.1:5000`, `docker.io`) and local transports (`oci`,
    /// `oci-archive`, `docker-archive`). Anything else is refused before
    /// any network access.
    pub fn restrict_sources(mut self, allowed: Vec<String>) -> ImageStore {
        self.allowed_sources = Some(Arc::new(allowed));
        self
    }

    fn check_source(&self, reference: &str, parsed: &ParsedReference) -> Result<(), ImageError> {
        let Some(allowed) = &self.allowed_sources else {
            return Ok(());
        };
        let source = match parsed {
            ParsedReference::Registry(r) => r.registry.as_str(),
            ParsedReference::Local(l) => l.format.transport(),
        };
        if allowed.iter().any(|a| a == source) {
            return Ok(());
        }
        Err(ImageError::Unsupported {
            reference: reference.to_owned(),
            reason: format!(
                "images from {source} are not allowed on this host (allowed: {}); use an allowed source or ask the operator",
                allowed.join(", ")
            ),
        })
    }

    /// Resolves `reference` from its source even if it is cached, picking up a moved tag.
    pub async fn pull(&self, reference: &str) -> Result<ResolvedImage, ImageError> {
        let parsed = ParsedReference::parse(reference)?;
        self.check_source(reference, &parsed)?;
        pull::pull(&self.inner, reference, &parsed).await
    }

    /// The image `reference` resolved to before, if all of it is still in the store.
    /// Never touches the network.
    pub fn cached(&self, reference: &str) -> Option<ResolvedImage> {
        let parsed = ParsedReference::parse(reference).ok()?;
        self.load_cached(reference, &parsed)
    }

    fn load_cached(&self, reference: &str, parsed: &ParsedReference) -> Option<ResolvedImage> {
        let record = self.inner.refs.get(&parsed.canonical())?;
        let digest = Digest::parse(&record.digest).ok()?;
        let manifest_bytes = self.inner.blobs.read(&digest).ok()??;
        let manifest: Manifest = serde_json::from_slice(&manifest_bytes).ok()?;
        let config_digest = Digest::parse(&manifest.config.digest).ok()?;
        let config_bytes = self.inner.blobs.read(&config_digest).ok()??;
        let config: ConfigFile = serde_json::from_slice(&config_bytes).ok()?;
        let keys = pull::layer_keys(reference, &manifest, &config).ok()?;
        if !self.inner.layers.all_present(&keys) {
            return None;
        }
        Some(describe(
            &self.inner,
            reference,
            parsed,
            &record,
            config,
            &keys,
        ))
    }
}

/// Builds the caller-facing description of a resolved image.
pub(crate) fn describe(
    store: &StoreInner,
    reference: &str,
    parsed: &ParsedReference,
    record: &RefRecord,
    config: ConfigFile,
    keys: &[Digest],
) -> ResolvedImage {
    let (registry, repository, tag) = match parsed {
        ParsedReference::Registry(r) => (r.registry.clone(), r.repository.clone(), r.tag.clone()),
        ParsedReference::Local(l) => (
            l.format.transport().to_owned(),
            l.path.display().to_string(),
            record.tag.clone(),
        ),
    };
    ResolvedImage {
        reference: reference.to_owned(),
        registry,
        repository,
        tag,
        digest: record.digest.clone(),
        config: config.config.map(ImageConfig::from).unwrap_or_default(),
        layers: keys.iter().map(|k| store.layers.path(k)).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowerdir_lists_the_top_layer_first_and_escapes() {
        let image = ResolvedImage {
            reference: "x".to_owned(),
            registry: "oci".to_owned(),
            repository: "/x".to_owned(),
            tag: None,
            digest: String::new(),
            config: ImageConfig::default(),
            layers: vec![PathBuf::from("/s/bottom"), PathBuf::from("/s/to:p,x")],
        };
        assert_eq!(image.overlay_lowerdir(), r"/s/to\:p\,x:/s/bottom");
    }
}
