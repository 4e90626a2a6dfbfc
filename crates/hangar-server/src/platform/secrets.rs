//! App secrets, encrypted at rest with ChaCha20-Poly1305 under a key kept in
//! the data directory (`secrets.key`, mode 0600, created on first start).
//!
//! The store holds one record per app (`secrets/{app}`): a version bumped
//! by every change and, per name, the ciphertext, its nonce and a digest of
//! the value. Decrypted values live only in memory, where the agent's
//! [`SecretSource`] reads them when it builds a Machine's environment.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::sync::{Arc, RwLock};

use anyhow::Context;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use hangar_agent::SecretSource;
use hangar_store::{Store, StoreExt};
use hangar_types::{is_valid_secret_name, SecretInfo};
use serde::{Deserialize, Serialize};
use sha2::Digest;

use crate::http::error::{HttpError, HttpResult};
use crate::platform::deploy::{CheckedDeploy, DeployInput};
use crate::platform::now_rfc3339;

/// The key file's name inside the data directory.
pub const KEY_FILE: &str = "secrets.key";

/// One secret as stored: never the value in clear.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredSecret {
    nonce: String,
    ciphertext: String,
    digest: String,
    created_at: String,
}

/// An app's secrets as stored.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct SecretsRecord {
    version: u64,
    secrets: BTreeMap<String, StoredSecret>,
}

fn record_key(app: &str) -> String {
    format!("secrets/{app}")
}

/// Decrypted values: app → (name, value).
type Cache = Arc<RwLock<HashMap<String, Vec<(String, String)>>>>;
/// The version of each app's secrets, for `min_secrets_version`.
type Versions = Arc<RwLock<HashMap<String, u64>>>;

/// The vault: encrypts, stores, and serves decrypted values to the agent.
pub struct SecretVault {
    cipher: ChaCha20Poly1305,
    store: Arc<dyn Store>,
    cache: Cache,
    versions: Versions,
}

impl std::fmt::Debug for SecretVault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretVault")
    }
}

/// Reads the key, or creates it (0600) when there is none.
fn load_or_create_key(data_dir: &Path) -> anyhow::Result<[u8; 32]> {
    let path = data_dir.join(KEY_FILE);
    match std::fs::read(&path) {
        Ok(bytes) => {
            let key: [u8; 32] = bytes.as_slice().try_into().map_err(|_| {
                anyhow::anyhow!(
                    "{} is {} bytes, not a 32-byte key; restore the original file (secrets cannot be read without it)",
                    path.display(),
                    bytes.len()
                )
            })?;
            let mode = std::fs::metadata(&path)?.permissions().mode() & 0o777;
            if mode != 0o600 {
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                    .with_context(|| format!("cannot make {} private", path.display()))?;
            }
            Ok(key)
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            let key: [u8; 32] = rand::random();
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
                .with_context(|| format!("cannot create the secrets key {}", path.display()))?;
            file.write_all(&key)?;
            file.sync_all()?;
            Ok(key)
        }
        Err(err) => Err(err).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// The first 16 hex digits of the value's SHA-256.
fn digest(value: &str) -> String {
    hex::encode(sha2::Sha256::digest(value.as_bytes()))[..16].to_string()
}

/// What a ciphertext is bound to: it cannot be moved to another app or name.
fn associated_data(app: &str, name: &str) -> Vec<u8> {
    format!("hangar-secret\0{app}\0{name}").into_bytes()
}

impl SecretVault {
    /// Opens the vault: loads (or creates) the key and decrypts every app's
    /// secrets into memory. A key that does not open the stored secrets is
    /// an error.
    pub async fn open(data_dir: &Path, store: Arc<dyn Store>) -> anyhow::Result<Arc<SecretVault>> {
        let key = load_or_create_key(data_dir)?;
        let vault = SecretVault {
            cipher: ChaCha20Poly1305::new(Key::from_slice(&key)),
            store,
            cache: Arc::new(RwLock::new(HashMap::new())),
            versions: Arc::new(RwLock::new(HashMap::new())),
        };
        let records = vault
            .store
            .list_json::<SecretsRecord>("secrets/")
            .await
            .context("cannot read the stored secrets")?;
        for (key, record, _) in records {
            let app = key.trim_start_matches("secrets/").to_string();
            let values = vault.decrypt_all(&app, &record).with_context(|| {
                format!("the secrets of app {app:?} do not open with {KEY_FILE}; restore the key file the data directory was created with")
            })?;
            vault
                .versions
                .write()
                .unwrap()
                .insert(app.clone(), record.version);
            vault.cache.write().unwrap().insert(app, values);
        }
        Ok(Arc::new(vault))
    }

    /// What the agent reads at every Machine launch.
    pub fn source(&self) -> SecretSource {
        let cache = self.cache.clone();
        let versions = self.versions.clone();
        SecretSource::new(move |app| cache.read().unwrap().get(app).cloned().unwrap_or_default())
            .with_version(move |app| versions.read().unwrap().get(app).copied().unwrap_or(0))
    }

    fn decrypt_all(
        &self,
        app: &str,
        record: &SecretsRecord,
    ) -> anyhow::Result<Vec<(String, String)>> {
        let b64 = base64::engine::general_purpose::STANDARD;
        let mut values = Vec::new();
        for (name, secret) in &record.secrets {
            let nonce = b64.decode(&secret.nonce)?;
            let ciphertext = b64.decode(&secret.ciphertext)?;
            if nonce.len() != 12 {
                anyhow::bail!("secret {name}: bad nonce");
            }
            let aad = associated_data(app, name);
            let plain = self
                .cipher
                .decrypt(
                    Nonce::from_slice(&nonce),
                    Payload {
                        msg: &ciphertext,
                        aad: &aad,
                    },
                )
                .map_err(|_| anyhow::anyhow!("secret {name} does not decrypt"))?;
            values.push((name.clone(), String::from_utf8(plain)?));
        }
        Ok(values)
    }

    fn encrypt(&self, app: &str, name: &str, value: &str) -> HttpResult<StoredSecret> {
        let b64 = base64::engine::general_purpose::STANDARD;
        let nonce: [u8; 12] = rand::random();
        let aad = associated_data(app, name);
        let ciphertext = self
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: value.as_bytes(),
                    aad: &aad,
                },
            )
            .map_err(|_| HttpError::internal("cannot encrypt a secret"))?;
        Ok(StoredSecret {
            nonce: b64.encode(nonce),
            ciphertext: b64.encode(ciphertext),
            digest: digest(value),
            created_at: now_rfc3339(),
        })
    }

    async fn record(&self, app: &str) -> HttpResult<(SecretsRecord, i64)> {
        Ok(self
            .store
            .get_json::<SecretsRecord>(&record_key(app))
            .await?
            .unwrap_or_default())
    }

    /// The app's secrets version (0 before any secret was set).
    pub async fn version(&self, app: &str) -> HttpResult<u64> {
        Ok(self.record(app).await?.0.version)
    }

    /// Names, digests and times, by name.
    pub async fn list(&self, app: &str) -> HttpResult<Vec<SecretInfo>> {
        let (record, _) = self.record(app).await?;
        Ok(record
            .secrets
            .into_iter()
            .map(|(name, s)| SecretInfo {
                name,
                digest: s.digest,
                created_at: s.created_at,
            })
            .collect())
    }

    /// What [`SecretVault::set`] refuses whatever is stored: no values, or
    /// a bad name.
    pub fn check_set(values: &BTreeMap<String, String>) -> HttpResult<()> {
        if values.is_empty() {
            return Err(HttpError::bad_request(
                "no secrets given: pass at least one NAME=VALUE",
            ));
        }
        check_names(values.keys())
    }

    /// Sets `values` (all or nothing); returns the new version.
    pub async fn set(&self, app: &str, values: &BTreeMap<String, String>) -> HttpResult<u64> {
        Self::check_set(values)?;
        let mut encrypted = BTreeMap::new();
        for (name, value) in values {
            encrypted.insert(name.clone(), self.encrypt(app, name, value)?);
        }
        self.change(app, |record| {
            record.secrets.extend(encrypted.clone());
            Ok(())
        })
        .await
    }

    /// What [`SecretVault::unset`] refuses whatever is stored: no names,
    /// or a bad one.
    pub fn check_unset(names: &[String]) -> HttpResult<()> {
        if names.is_empty() {
            return Err(HttpError::bad_request(
                "no secret names given: pass the names to remove",
            ));
        }
        check_names(names.iter())
    }

    /// Removes `names` (each must exist); returns the new version.
    pub async fn unset(&self, app: &str, names: &[String]) -> HttpResult<u64> {
        Self::check_unset(names)?;
        self.change(app, |record| {
            let missing: Vec<&str> = names
                .iter()
                .filter(|n| !record.secrets.contains_key(*n))
                .map(String::as_str)
                .collect();
            if !missing.is_empty() {
                return Err(HttpError::not_found(format!(
                    "app {app:?} has no secret named {}; list them with `hangar secrets list`",
                    missing.join(", ")
                )));
            }
            for name in names {
                record.secrets.remove(name);
            }
            Ok(())
        })
        .await
    }

    /// Drops every secret of an app (the app is being deleted): a new app of
    /// the same name starts with none, at version 0.
    pub async fn forget(&self, app: &str) -> HttpResult<()> {
        self.store.delete(&record_key(app)).await?;
        self.cache.write().unwrap().remove(app);
        self.versions.write().unwrap().remove(app);
        Ok(())
    }

    /// Applies `edit` with compare-and-set, bumps the version, refreshes the cache.
    async fn change(
        &self,
        app: &str,
        edit: impl Fn(&mut SecretsRecord) -> HttpResult<()>,
    ) -> HttpResult<u64> {
        loop {
            let (mut record, revision) = self.record(app).await?;
            edit(&mut record)?;
            record.version += 1;
            if self
                .store
                .cas_json(&record_key(app), &record, revision)
                .await?
                .is_ok()
            {
                let values = self.decrypt_all(app, &record).map_err(|err| {
                    HttpError::internal(format!("stored secrets do not decrypt: {err}"))
                })?;
                self.cache.write().unwrap().insert(app.to_string(), values);
                self.versions
                    .write()
                    .unwrap()
                    .insert(app.to_string(), record.version);
                return Ok(record.version);
            }
        }
    }
}

fn check_names<'a>(names: impl Iterator<Item = &'a String>) -> HttpResult<()> {
    let bad: Vec<String> = names
        .filter(|n| !is_valid_secret_name(n))
        .map(|n| format!("{n:?}"))
        .collect();
    if bad.is_empty() {
        return Ok(());
    }
    Err(HttpError::bad_request(format!(
        "invalid secret name {}: use letters, digits and underscores, not starting with a digit (like DATABASE_URL)",
        bad.join(", ")
    )))
}

impl crate::platform::ControlPlane {
    /// The app's secrets: names, digests, times.
    pub async fn list_secrets(&self, app: &str) -> HttpResult<Vec<SecretInfo>> {
        self.app(app).await?;
        self.workflow()?.vault.list(app).await
    }

    /// Sets secrets; unless `stage`, restarts the app's Machines on them.
    /// The restart deploy is checked first: when the control plane would
    /// refuse it, nothing is stored.
    pub async fn set_secrets(
        self: &Arc<Self>,
        app: &str,
        values: &BTreeMap<String, String>,
        stage: bool,
    ) -> HttpResult<hangar_types::SecretsChanged> {
        self.app(app).await?;
        let vault = self.workflow()?.vault.clone();
        SecretVault::check_set(values)?;
        let restart = self.secrets_restart(app, stage, "Set secrets").await?;
        let version = vault.set(app, values).await?;
        self.after_secrets_change(version, restart).await
    }

    /// Removes secrets; unless `stage`, restarts the app's Machines without
    /// them. As with [`ControlPlane::set_secrets`], a refused restart
    /// removes nothing.
    pub async fn unset_secrets(
        self: &Arc<Self>,
        app: &str,
        names: &[String],
        stage: bool,
    ) -> HttpResult<hangar_types::SecretsChanged> {
        self.app(app).await?;
        let vault = self.workflow()?.vault.clone();
        SecretVault::check_unset(names)?;
        let restart = self.secrets_restart(app, stage, "Unset secrets").await?;
        let version = vault.unset(app, names).await?;
        self.after_secrets_change(version, restart).await
    }

    /// The restart-only deploy of the current release that applies a
    /// secrets change (none with `stage`, or before the first release),
    /// checked before the change is stored. Its refusal is the change's:
    /// the change must not be stored while the caller hears it failed.
    async fn secrets_restart(
        &self,
        app: &str,
        stage: bool,
        description: &str,
    ) -> HttpResult<Option<CheckedDeploy>> {
        if stage {
            return Ok(None);
        }
        let Some(release) = self.latest_complete_release(app).await? else {
            return Ok(None);
        };
        let version = release.release.version;
        let input = DeployInput {
            request: hangar_types::CreateDeployRequest {
                image: release.release.image,
                fly_toml: release.fly_toml,
                restart_only: true,
                ..Default::default()
            },
            description: description.to_string(),
        };
        match self.check_deploy(app, input).await {
            Ok(checked) => Ok(Some(checked)),
            Err(mut err) if err.status.is_client_error() => {
                err.body.error = format!(
                    "secrets not changed: the deploy that would restart the app's Machines on \
                     them is refused (release v{version} as it is): {}\n\
                     Store the change without restarting with --stage (it applies on the next \
                     deploy), or deploy a fixed fly.toml first",
                    err.body.error
                );
                Err(err)
            }
            Err(err) => Err(err),
        }
    }

    /// Queues the checked restart deploy, if any, after the change is
    /// stored as `secrets_version`.
    async fn after_secrets_change(
        self: &Arc<Self>,
        secrets_version: u64,
        restart: Option<CheckedDeploy>,
    ) -> HttpResult<hangar_types::SecretsChanged> {
        let deploy = match restart {
            Some(checked) => Some(self.queue_deploy(checked).await.map_err(|mut err| {
                // Checked already: only the store can fail here.
                err.body.error = format!(
                    "secrets version {secrets_version} is stored, but its restart deploy could \
                     not be queued: {}; run `hangar deploy` (or a secrets change) again to \
                     apply it",
                    err.body.error
                );
                err
            })?),
            None => None,
        };
        Ok(hangar_types::SecretsChanged {
            secrets_version,
            deploy,
        })
    }
}
