//! Garbage collection: mark every blob any manifest of any repository
//! references (the manifest itself, its config and layers, an index's child
//! manifests), then sweep the rest.
//!
//! Nothing referenced is ever deleted. Blobs and repository links younger than
//! the grace period survive too, so a push whose manifest has not arrived yet
//! keeps its layers. The collector holds the registry's GC lock exclusively;
//! writes that make blobs referenced (links, manifests) hold it shared, so no
//! push can reference a blob between the mark and the sweep.

use std::collections::HashSet;
use std::time::{Duration, SystemTime};

use crate::error::RegistryError;
use crate::meta::now_secs;
use crate::names::Digest;
use crate::Registry;

/// What one collection did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GcReport {
    /// Blobs referenced by some manifest (or within the grace period), kept.
    pub blobs_kept: usize,
    /// Blobs deleted from disk.
    pub blobs_deleted: usize,
    /// Bytes freed on disk.
    pub bytes_freed: u64,
    /// Repository links to unreferenced blobs removed (they count against quotas).
    pub links_removed: usize,
    /// Abandoned upload sessions removed.
    pub uploads_expired: usize,
}

impl Registry {
    /// Collects with the configured grace period.
    pub async fn collect_garbage(&self) -> Result<GcReport, RegistryError> {
        self.collect_garbage_with_grace(self.config.gc_grace).await
    }

    /// Deletes blobs no manifest references and that are older than `grace`.
    pub async fn collect_garbage_with_grace(
        &self,
        grace: Duration,
    ) -> Result<GcReport, RegistryError> {
        let _exclusive = self.gc_lock.write().await;
        let mut report = GcReport::default();
        let now = now_secs();
        let young = |linked_at: u64| now.saturating_sub(linked_at) < grace.as_secs();

        let mut marked: HashSet<Digest> = HashSet::new();
        for repo in self.meta.all_repositories().await? {
            let mut referenced_here: HashSet<Digest> = HashSet::new();
            for (digest, manifest) in &repo.manifests {
                referenced_here.insert(digest.clone());
                for text in manifest.blobs.iter().chain(&manifest.children) {
                    if let Ok(child) = Digest::parse(text) {
                        referenced_here.insert(child);
                    }
                }
            }
            for (digest, link) in &repo.links {
                if referenced_here.contains(digest) || young(link.linked_at) {
                    marked.insert(digest.clone());
                } else {
                    self.meta.delete_link(&repo.name, digest).await?;
                    report.links_removed += 1;
                }
            }
            marked.extend(referenced_here);
        }

        let sessions = self.meta.uploads().await?;
        for (id, upload) in &sessions {
            if now.saturating_sub(upload.started_at) > self.config.upload_ttl.as_secs() {
                self.meta.delete_upload(id).await?;
                self.disk.remove_upload(id).await;
                report.uploads_expired += 1;
            }
        }
        // Data files whose session record is gone (a crash between the two).
        let files = self
            .disk
            .list_uploads()
            .map_err(|e| RegistryError::io("cannot list upload data", e))?;
        for (id, modified) in files {
            let orphaned = !sessions.iter().any(|(session, _)| *session == id);
            let age = SystemTime::now()
                .duration_since(modified)
                .unwrap_or(Duration::ZERO);
            if orphaned && age > self.config.upload_ttl {
                self.disk.remove_upload(&id).await;
            }
        }

        let blobs = self
            .disk
            .list_blobs()
            .map_err(|e| RegistryError::io("cannot list the registry's blobs", e))?;
        for (digest, size, modified) in blobs {
            let age = SystemTime::now()
                .duration_since(modified)
                .unwrap_or(Duration::ZERO);
            if marked.contains(&digest) || age < grace {
                report.blobs_kept += 1;
                continue;
            }
            self.disk
                .delete_blob(&digest)
                .map_err(|e| RegistryError::io("cannot delete an unreferenced blob", e))?;
            report.blobs_deleted += 1;
            report.bytes_freed += size;
        }
        Ok(report)
    }
}
