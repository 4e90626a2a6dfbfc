//! Repository metadata in the platform store.
//!
//! Keys (repository names in key form, `/` → `:`):
//! - `/registry/r/<repo>/tag/<tag>` → [`TagRecord`]
//! - `/registry/r/<repo>/manifest/<hex>` → [`ManifestRecord`]
//! - `/registry/r/<repo>/blob/<hex>` → [`BlobLink`] (the blob may be pulled from the repo)
//! - `/registry/uploads/<id>` → [`UploadRecord`]
//! - `/registry/quota/<app>` → bytes (overrides the default quota)

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use hangar_store::{Compare, Op, Store, StoreExt, Txn};
use serde::{Deserialize, Serialize};

use crate::error::RegistryError;
use crate::names::{Digest, RepoName};

const ROOT: &str = "/registry/r/";
const UPLOADS: &str = "/registry/uploads/";
const QUOTAS: &str = "/registry/quota/";

/// A tag points at a manifest digest.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TagRecord {
    /// `sha256:…` of the manifest.
    pub digest: String,
}

/// A manifest stored in a repository (its bytes are the blob of its digest).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ManifestRecord {
    /// The media type as pushed.
    pub media_type: String,
    /// Size of the manifest bytes.
    pub size: u64,
    /// Blobs it references (config and layers).
    pub blobs: Vec<String>,
    /// Manifests it references (children of an index).
    pub children: Vec<String>,
    /// The manifest it refers to (its `subject`), for the referrers API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Its `artifactType`, else its config's media type (image manifests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// Its annotations, listed with it by the referrers API.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub annotations: std::collections::BTreeMap<String, String>,
}

/// A blob made available in a repository (upload or mount).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BlobLink {
    /// Blob size in bytes.
    pub size: u64,
    /// Seconds since the epoch when it was linked.
    pub linked_at: u64,
}

/// An upload session in progress.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct UploadRecord {
    /// The repository it uploads into.
    pub repo: String,
    /// Bytes received so far.
    pub offset: u64,
    /// Seconds since the epoch when it started.
    pub started_at: u64,
}

/// Seconds since the epoch.
pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Typed access to the registry's keys.
#[derive(Clone)]
pub struct Meta {
    store: Arc<dyn Store>,
}

fn repo_prefix(repo: &RepoName) -> String {
    format!("{ROOT}{}/", repo.key_form())
}

fn tag_key(repo: &RepoName, tag: &str) -> String {
    format!("{}tag/{tag}", repo_prefix(repo))
}

fn manifest_key(repo: &RepoName, digest: &Digest) -> String {
    format!("{}manifest/{}", repo_prefix(repo), digest.hex())
}

fn link_key(repo: &RepoName, digest: &Digest) -> String {
    format!("{}blob/{}", repo_prefix(repo), digest.hex())
}

impl Meta {
    /// Wraps the platform store.
    pub fn new(store: Arc<dyn Store>) -> Meta {
        Meta { store }
    }

    /// The tag's manifest digest.
    pub async fn tag(&self, repo: &RepoName, tag: &str) -> Result<Option<Digest>, RegistryError> {
        let record = self
            .store
            .get_json::<TagRecord>(&tag_key(repo, tag))
            .await?;
        Ok(record.and_then(|(r, _)| Digest::parse(&r.digest).ok()))
    }

    /// Tags of a repository, sorted.
    pub async fn tags(&self, repo: &RepoName) -> Result<Vec<String>, RegistryError> {
        let prefix = format!("{}tag/", repo_prefix(repo));
        let listing = self.store.list(&prefix).await?;
        Ok(listing
            .kvs
            .into_iter()
            .filter_map(|kv| kv.key.strip_prefix(&prefix).map(str::to_owned))
            .collect())
    }

    /// A manifest of the repository.
    pub async fn manifest(
        &self,
        repo: &RepoName,
        digest: &Digest,
    ) -> Result<Option<ManifestRecord>, RegistryError> {
        let key = manifest_key(repo, digest);
        Ok(self.store.get_json(&key).await?.map(|(r, _)| r))
    }

    /// Every manifest of the repository.
    pub async fn manifests(
        &self,
        repo: &RepoName,
    ) -> Result<Vec<(Digest, ManifestRecord)>, RegistryError> {
        let prefix = format!("{}manifest/", repo_prefix(repo));
        let listing = self.store.list(&prefix).await?;
        Ok(listing
            .kvs
            .into_iter()
            .filter_map(|kv| {
                let digest = Digest::from_hex(kv.key.strip_prefix(&prefix)?)?;
                Some((digest, serde_json::from_slice(&kv.value).ok()?))
            })
            .collect())
    }

    /// Stores a manifest record and, if given, points a tag at it, in one transaction.
    pub async fn put_manifest(
        &self,
        repo: &RepoName,
        digest: &Digest,
        record: &ManifestRecord,
        tag: Option<&str>,
    ) -> Result<(), RegistryError> {
        let mut ops = vec![Op::put(manifest_key(repo, digest), to_json(record))];
        if let Some(tag) = tag {
            let tag_record = TagRecord {
                digest: digest.to_string(),
            };
            ops.push(Op::put(tag_key(repo, tag), to_json(&tag_record)));
        }
        self.store.txn(Txn::new().then(ops)).await?;
        Ok(())
    }

    /// Deletes a manifest and every tag pointing at it; false if it was absent.
    pub async fn delete_manifest(
        &self,
        repo: &RepoName,
        digest: &Digest,
    ) -> Result<bool, RegistryError> {
        let key = manifest_key(repo, digest);
        let mut ops = vec![Op::delete(&key)];
        let prefix = format!("{}tag/", repo_prefix(repo));
        for (tag_key, tag, _) in self.store.list_json::<TagRecord>(&prefix).await? {
            if tag.digest == digest.to_string() {
                ops.push(Op::delete(tag_key));
            }
        }
        let txn = Txn::new().when(Compare::exists(&key)).then(ops);
        Ok(self.store.txn(txn).await?.succeeded)
    }

    /// Removes a tag; false if it did not exist.
    pub async fn delete_tag(&self, repo: &RepoName, tag: &str) -> Result<bool, RegistryError> {
        Ok(self.store.delete(&tag_key(repo, tag)).await?.is_some())
    }

    /// The link of a blob into a repository.
    pub async fn link(
        &self,
        repo: &RepoName,
        digest: &Digest,
    ) -> Result<Option<BlobLink>, RegistryError> {
        Ok(self
            .store
            .get_json(&link_key(repo, digest))
            .await?
            .map(|(r, _)| r))
    }

    /// Makes a blob available in a repository.
    pub async fn put_link(
        &self,
        repo: &RepoName,
        digest: &Digest,
        size: u64,
    ) -> Result<(), RegistryError> {
        let link = BlobLink {
            size,
            linked_at: now_secs(),
        };
        self.store.put_json(&link_key(repo, digest), &link).await?;
        Ok(())
    }

    /// Removes a blob link.
    pub async fn delete_link(&self, repo: &RepoName, digest: &Digest) -> Result<(), RegistryError> {
        self.store.delete(&link_key(repo, digest)).await?;
        Ok(())
    }

    /// Everything stored about every repository, in one consistent listing.
    pub async fn all_repositories(&self) -> Result<Vec<RepoContents>, RegistryError> {
        self.repositories_under(ROOT).await
    }

    /// The repositories of one app (`<app>` and `<app>/<name>`).
    pub async fn app_repositories(&self, app: &str) -> Result<Vec<RepoContents>, RegistryError> {
        let mut repos = self.repositories_under(&format!("{ROOT}{app}/")).await?;
        repos.extend(self.repositories_under(&format!("{ROOT}{app}:")).await?);
        Ok(repos)
    }

    async fn repositories_under(&self, prefix: &str) -> Result<Vec<RepoContents>, RegistryError> {
        let listing = self.store.list(prefix).await?;
        let mut repos: Vec<RepoContents> = Vec::new();
        for kv in listing.kvs {
            let rest = &kv.key[ROOT.len()..];
            let Some((repo_key, item)) = rest.split_once('/') else {
                continue;
            };
            let Some(repo) = RepoName::from_key_form(repo_key) else {
                continue;
            };
            if repos.last().is_none_or(|r| r.name != repo) {
                repos.push(RepoContents::new(repo));
            }
            let contents = repos.last_mut().expect("pushed above");
            let (kind, id) = item.split_once('/').unwrap_or((item, ""));
            match kind {
                "manifest" => {
                    if let (Some(digest), Ok(record)) =
                        (Digest::from_hex(id), serde_json::from_slice(&kv.value))
                    {
                        contents.manifests.push((digest, record));
                    }
                }
                "blob" => {
                    if let (Some(digest), Ok(link)) =
                        (Digest::from_hex(id), serde_json::from_slice(&kv.value))
                    {
                        contents.links.push((digest, link));
                    }
                }
                "tag" => contents.tags.push(id.to_owned()),
                _ => {}
            }
        }
        Ok(repos)
    }

    /// Starts an upload session.
    pub async fn create_upload(&self, id: &str, repo: &RepoName) -> Result<(), RegistryError> {
        let record = UploadRecord {
            repo: repo.to_string(),
            offset: 0,
            started_at: now_secs(),
        };
        self.store
            .put_json(&format!("{UPLOADS}{id}"), &record)
            .await?;
        Ok(())
    }

    /// An upload session and its mod revision (for compare-and-set).
    pub async fn upload(&self, id: &str) -> Result<Option<(UploadRecord, i64)>, RegistryError> {
        Ok(self.store.get_json(&format!("{UPLOADS}{id}")).await?)
    }

    /// Records a new offset if nobody else moved the session meanwhile.
    pub async fn advance_upload(
        &self,
        id: &str,
        record: &UploadRecord,
        expected_revision: i64,
    ) -> Result<bool, RegistryError> {
        let key = format!("{UPLOADS}{id}");
        Ok(self
            .store
            .cas_json(&key, record, expected_revision)
            .await?
            .is_ok())
    }

    /// Ends an upload session.
    pub async fn delete_upload(&self, id: &str) -> Result<bool, RegistryError> {
        Ok(self
            .store
            .delete(&format!("{UPLOADS}{id}"))
            .await?
            .is_some())
    }

    /// Every upload session.
    pub async fn uploads(&self) -> Result<Vec<(String, UploadRecord)>, RegistryError> {
        let listed = self.store.list_json::<UploadRecord>(UPLOADS).await?;
        Ok(listed
            .into_iter()
            .map(|(key, record, _)| (key[UPLOADS.len()..].to_owned(), record))
            .collect())
    }

    /// The app's quota override, if one is set.
    pub async fn quota(&self, app: &str) -> Result<Option<u64>, RegistryError> {
        Ok(self
            .store
            .get_json(&format!("{QUOTAS}{app}"))
            .await?
            .map(|(q, _)| q))
    }

    /// Sets the app's quota override.
    pub async fn set_quota(&self, app: &str, bytes: u64) -> Result<(), RegistryError> {
        self.store
            .put_json(&format!("{QUOTAS}{app}"), &bytes)
            .await?;
        Ok(())
    }
}

/// All keys of one repository.
#[derive(Debug)]
pub struct RepoContents {
    /// The repository.
    pub name: RepoName,
    /// Its tags.
    pub tags: Vec<String>,
    /// Its manifests.
    pub manifests: Vec<(Digest, ManifestRecord)>,
    /// Its blob links.
    pub links: Vec<(Digest, BlobLink)>,
}

impl RepoContents {
    fn new(name: RepoName) -> RepoContents {
        RepoContents {
            name,
            tags: Vec::new(),
            manifests: Vec::new(),
            links: Vec::new(),
        }
    }
}

fn to_json<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("registry records serialize")
}
