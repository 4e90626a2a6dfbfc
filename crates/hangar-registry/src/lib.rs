//! The built-in OCI registry of the control plane (distribution spec v1.1).
//!
//! [`Registry::router`] serves `/v2/` — blobs, chunked and monolithic
//! uploads, cross-repository mounts, manifests (OCI and Docker, images and
//! indexes, media type kept as pushed), referrers, tags, catalog, and the token endpoint
//! `/v2/token` — authenticated with the platform token (see [`auth`]).
//!
//! Storage: blob bytes on disk under `<root>/blobs/sha256/` ([`disk`]),
//! verified before they are renamed into place; tags, manifests, blob links
//! and upload sessions in the platform store ([`meta`]). Repositories are
//! `<app>` or `<app>/<name>`; the app part maps per-app quotas ([`quota`])
//! and must name an existing app to be pushed to ([`apps`]).
//! [`Registry::collect_garbage`] deletes blobs no manifest references ([`gc`]).

pub mod apps;
pub mod auth;
mod byte_range;
pub mod disk;
pub mod error;
pub mod gc;
mod http;
pub mod manifests;
pub mod meta;
pub mod names;
pub mod quota;
mod referrers;
mod uploads;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hangar_store::Store;

pub use apps::AppDirectory;
pub use error::{ErrorCode, RegistryError};
pub use gc::GcReport;

/// Default per-app quota: 10 GiB of distinct blobs.
pub const DEFAULT_QUOTA_BYTES: u64 = 10 * 1024 * 1024 * 1024;

/// How to open a registry.
#[derive(Clone, Debug)]
pub struct RegistryConfig {
    /// Where blobs, upload data and the token key live (`<data dir>/registry`).
    pub root: PathBuf,
    /// The platform's API token (accepted as password or bearer token).
    pub platform_token: String,
    /// Quota of an app without its own setting.
    pub default_quota_bytes: u64,
    /// Blobs and links younger than this are never collected (in-flight pushes).
    pub gc_grace: Duration,
    /// Upload sessions idle longer than this are abandoned by the collector.
    pub upload_ttl: Duration,
}

impl RegistryConfig {
    /// Defaults: 10 GiB per app, one hour of grace, uploads kept a day.
    pub fn new(root: PathBuf, platform_token: String) -> RegistryConfig {
        RegistryConfig {
            root,
            platform_token,
            default_quota_bytes: DEFAULT_QUOTA_BYTES,
            gc_grace: Duration::from_secs(3600),
            upload_ttl: Duration::from_secs(24 * 3600),
        }
    }
}

/// The registry: disk, metadata, auth. Share it as `Arc<Registry>`.
pub struct Registry {
    config: RegistryConfig,
    disk: disk::Disk,
    meta: meta::Meta,
    auth: auth::Auth,
    /// Held shared by writes that make blobs referenced, exclusively by the collector.
    gc_lock: tokio::sync::RwLock<()>,
    /// Upload sessions a request is writing right now.
    busy_uploads: Mutex<std::collections::HashSet<String>>,
    /// Which apps exist, once the control plane said how to ask.
    apps: std::sync::OnceLock<Arc<dyn apps::AppDirectory>>,
}

impl Registry {
    /// Opens the registry under `config.root`, creating its directories and
    /// the key that signs registry tokens (`token-key`, mode 0600).
    pub fn open(
        config: RegistryConfig,
        store: Arc<dyn Store>,
    ) -> Result<Arc<Registry>, RegistryError> {
        let disk = disk::Disk::open(&config.root)
            .map_err(|e| RegistryError::io("cannot create the registry directories", e))?;
        let key = load_or_create_key(&config.root.join("token-key"))?;
        Ok(Arc::new(Registry {
            auth: auth::Auth::new(config.platform_token.clone(), key),
            meta: meta::Meta::new(store),
            disk,
            config,
            gc_lock: tokio::sync::RwLock::new(()),
            busy_uploads: Mutex::new(Default::default()),
            apps: std::sync::OnceLock::new(),
        }))
    }

    /// The HTTP surface, to be mounted at the root of the API's address.
    pub fn router(self: &Arc<Self>) -> axum::Router {
        http::router(self.clone())
    }

    /// The configuration it was opened with.
    pub fn config(&self) -> &RegistryConfig {
        &self.config
    }

    /// Sets an app's quota in bytes (overriding the default).
    pub async fn set_quota(&self, app: &str, bytes: u64) -> Result<(), RegistryError> {
        self.meta.set_quota(app, bytes).await
    }

    /// Runs the collector every `every` until the task is aborted.
    pub fn spawn_gc(self: &Arc<Self>, every: Duration) -> tokio::task::JoinHandle<()> {
        let registry = self.clone();
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(every);
            ticker.tick().await;
            loop {
                ticker.tick().await;
                match registry.collect_garbage().await {
                    Ok(report) => tracing::info!(?report, "registry garbage collection"),
                    Err(err) => tracing::warn!(%err, "registry garbage collection failed"),
                }
            }
        })
    }
}

fn load_or_create_key(path: &Path) -> Result<Vec<u8>, RegistryError> {
    if let Ok(text) = std::fs::read_to_string(path) {
        if let Ok(key) = hex::decode(text.trim()) {
            if key.len() >= 32 {
                return Ok(key);
            }
        }
    }
    let key: [u8; 32] = rand::random();
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| RegistryError::io("cannot write the registry token key", e))?;
    std::io::Write::write_all(&mut file, hex::encode(key).as_bytes())
        .map_err(|e| RegistryError::io("cannot write the registry token key", e))?;
    Ok(key.to_vec())
}
