//! Volumes: records in the store, storage on the host's agent.

use hangar_store::StoreExt;
use hangar_types::{ids, CreateVolumeRequest, Volume, VolumeSnapshot};

use crate::http::error::{HttpError, HttpResult};
use crate::platform::{now_rfc3339, ControlPlane};

/// Size when the request names none (Fly's API default).
pub const DEFAULT_SIZE_GB: i64 = 3;
/// The largest volume.
pub const MAX_SIZE_GB: i64 = 500;
/// Size of a volume created for a mount that names none (flyctl's default
/// for `[mounts]` without `initial_size`).
const MOUNT_DEFAULT_SIZE_GB: i64 = 1;

/// A volume a mount claimed by name, and whether it was created for it.
pub struct ClaimedVolume {
    pub volume: Volume,
    pub created: bool,
}

fn key(app: &str, id: &str) -> String {
    format!("volumes/{app}/{id}")
}

fn snapshot_prefix(app: &str, volume: &str) -> String {
    format!("snapshots/{app}/{volume}/")
}

fn valid_volume_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 30
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

impl ControlPlane {
    pub async fn volume(&self, app: &str, id: &str) -> HttpResult<(Volume, i64)> {
        self.store
            .get_json::<Volume>(&key(app, id))
            .await?
            .filter(|(v, _)| v.state != "destroyed")
            .ok_or_else(|| HttpError::not_found(format!("volume {id} not found in app {app}")))
    }

    /// Volumes of an app; destroyed ones only if asked.
    pub async fn list_volumes(
        &self,
        app: &str,
        include_destroyed: bool,
    ) -> HttpResult<Vec<Volume>> {
        let mut volumes: Vec<Volume> = self
            .store
            .list_json::<Volume>(&format!("volumes/{app}/"))
            .await?
            .into_iter()
            .map(|(_, v, _)| v)
            .filter(|v| include_destroyed || v.state != "destroyed")
            .collect();
        volumes.sort_by(|a, b| a.created_at.cmp(&b.created_at));
        Ok(volumes)
    }

    pub async fn create_volume(&self, app: &str, req: CreateVolumeRequest) -> HttpResult<Volume> {
        self.app(app).await?;
        if !valid_volume_name(&req.name) {
            return Err(HttpError::bad_request(format!(
                "invalid volume name {:?}: use 1-30 lowercase letters, digits and underscores",
                req.name
            )));
        }
        let size_gb = req.size_gb.unwrap_or(DEFAULT_SIZE_GB);
        if !(1..=MAX_SIZE_GB).contains(&size_gb) {
            return Err(HttpError::bad_request(format!(
                "size_gb must be between 1 and {MAX_SIZE_GB} (got {size_gb})"
            )));
        }
        let region = self.placement_region(req.region.as_deref())?;
        if let Some(retention) = req.snapshot_retention {
            if !(1..=60).contains(&retention) {
                return Err(HttpError::bad_request(format!(
                    "snapshot_retention must be between 1 and 60 days (got {retention})"
                )));
            }
        }
        if let Some(fstype) = req.fstype.as_deref() {
            if fstype != "ext4" {
                return Err(HttpError::bad_request(format!(
                    "fstype {fstype:?} is not supported here: use \"ext4\""
                )));
            }
        }
        let source = match (&req.snapshot_id, &req.source_volume_id) {
            (Some(_), Some(_)) => {
                return Err(HttpError::bad_request(
                    "give either snapshot_id (restore) or source_volume_id (fork), not both",
                ))
            }
            (Some(snapshot), None) => {
                let snap = self.find_snapshot(app, snapshot).await?;
                if snap.volume_size > size_gb {
                    return Err(HttpError::bad_request(format!(
                        "snapshot {snapshot} is of a {} GB volume; restore it into at least that size",
                        snap.volume_size
                    )));
                }
                Some(StorageSource::Snapshot(snapshot.clone()))
            }
            (None, Some(source)) => {
                let (src, _) = self.volume(app, source).await?;
                if src.size_gb > size_gb {
                    return Err(HttpError::bad_request(format!(
                        "volume {source} is {} GB; a fork must be at least that size",
                        src.size_gb
                    )));
                }
                Some(StorageSource::Volume(source.clone()))
            }
            (None, None) => None,
        };
        let id = ids::new_volume_id();
        let storage = self.agent.volumes();
        storage
            .create(&id, size_gb)
            .await
            .map_err(|e| HttpError::internal(e.to_string()))?;
        let filled = match source {
            Some(StorageSource::Snapshot(snap)) => storage.restore(&id, &snap).await,
            Some(StorageSource::Volume(src)) => storage.copy_from(&src, &id).await,
            None => Ok(()),
        };
        if let Err(err) = filled {
            let _ = storage.delete(&id).await;
            return Err(HttpError::internal(err.to_string()));
        }
        let block_size = 4096;
        let blocks = size_gb * 1024 * 1024 * 1024 / block_size;
        let volume = Volume {
            id: id.clone(),
            name: req.name,
            state: "created".into(),
            size_gb,
            region,
            zone: "local".into(),
            encrypted: req.encrypted.unwrap_or(true),
            attached_machine_id: None,
            attached_alloc_id: None,
            created_at: now_rfc3339(),
            blocks,
            block_size,
            blocks_free: blocks,
            blocks_avail: blocks,
            fstype: "ext4".into(),
            snapshot_retention: req.snapshot_retention.unwrap_or(5),
            auto_backup_enabled: req.auto_backup_enabled.unwrap_or(true),
            host_status: "ok".into(),
        };
        if let Err(err) = self.store.put_json(&key(app, &id), &volume).await {
            let _ = storage.delete(&id).await;
            return Err(err.into());
        }
        Ok(volume)
    }

    pub async fn update_volume(
        &self,
        app: &str,
        id: &str,
        retention: Option<i64>,
        auto_backup: Option<bool>,
    ) -> HttpResult<Volume> {
        let (mut volume, rev) = self.volume(app, id).await?;
        if let Some(r) = retention {
            if !(1..=60).contains(&r) {
                return Err(HttpError::bad_request(format!(
                    "snapshot_retention must be between 1 and 60 days (got {r})"
                )));
            }
            volume.snapshot_retention = r;
        }
        if let Some(b) = auto_backup {
            volume.auto_backup_enabled = b;
        }
        self.put_volume(app, &volume, rev).await?;
        Ok(volume)
    }

    async fn put_volume(&self, app: &str, volume: &Volume, rev: i64) -> HttpResult<()> {
        match self
            .store
            .cas_json(&key(app, &volume.id), volume, rev)
            .await?
        {
            Ok(_) => Ok(()),
            Err(_) => Err(HttpError::conflict(format!(
                "volume {} changed concurrently; retry",
                volume.id
            ))),
        }
    }

    /// Grows a volume; it never shrinks.
    pub async fn extend_volume(
        &self,
        app: &str,
        id: &str,
        size_gb: i64,
    ) -> HttpResult<(Volume, bool)> {
        let (mut volume, rev) = self.volume(app, id).await?;
        if size_gb <= volume.size_gb {
            return Err(HttpError::bad_request(format!(
                "volumes can only grow: {id} is {} GB, asked for {size_gb} GB",
                volume.size_gb
            )));
        }
        if size_gb > MAX_SIZE_GB {
            return Err(HttpError::bad_request(format!(
                "size_gb must be at most {MAX_SIZE_GB} (got {size_gb})"
            )));
        }
        let needs_restart = self
            .agent
            .volumes()
            .extend(id, size_gb)
            .await
            .map_err(|e| HttpError::internal(e.to_string()))?;
        volume.size_gb = size_gb;
        volume.blocks = size_gb * 1024 * 1024 * 1024 / volume.block_size;
        volume.blocks_free = volume.blocks;
        volume.blocks_avail = volume.blocks;
        self.put_volume(app, &volume, rev).await?;
        Ok((volume, needs_restart))
    }

    /// Destroys a detached volume.
    pub async fn delete_volume(&self, app: &str, id: &str) -> HttpResult<Volume> {
        let (volume, _) = self.volume(app, id).await?;
        if let Some(machine) = &volume.attached_machine_id {
            return Err(HttpError::precondition(format!(
                "volume {id} is attached to machine {machine}; destroy that machine first"
            )));
        }
        self.destroy_volume_storage(&volume).await?;
        let mut gone = volume.clone();
        gone.state = "destroyed".into();
        self.store.put_json(&key(app, id), &gone).await?;
        Ok(gone)
    }

    pub(crate) async fn destroy_volume_storage(&self, volume: &Volume) -> HttpResult<()> {
        self.agent
            .volumes()
            .delete(&volume.id)
            .await
            .map_err(|e| HttpError::internal(e.to_string()))
    }

    /// A volume named `name` for `machine` (fly.toml's `[mounts] source`):
    /// one already attached to it, else a free one in `region`, else a new
    /// one of `size_gb` (1 GB when unset) there. It is not attached here.
    pub(crate) async fn claim_volume_by_name(
        &self,
        app: &str,
        machine: &str,
        region: &str,
        name: &str,
        size_gb: Option<i64>,
    ) -> HttpResult<ClaimedVolume> {
        let volumes = self.list_volumes(app, false).await?;
        let named = || volumes.iter().filter(|v| v.name == name);
        let found = named()
            .find(|v| v.attached_machine_id.as_deref() == Some(machine))
            .or_else(|| named().find(|v| v.attached_machine_id.is_none() && v.region == region));
        if let Some(volume) = found {
            return Ok(ClaimedVolume {
                volume: volume.clone(),
                created: false,
            });
        }
        let request = CreateVolumeRequest {
            name: name.to_string(),
            region: Some(region.to_string()),
            size_gb: Some(size_gb.unwrap_or(MOUNT_DEFAULT_SIZE_GB)),
            ..CreateVolumeRequest::default()
        };
        match self.create_volume(app, request).await {
            Ok(volume) => Ok(ClaimedVolume {
                volume,
                created: true,
            }),
            Err(mut err) => {
                err.body.error = format!(
                    "no free volume {name:?} in region {region} and none could be created: {}",
                    err.body.error
                );
                Err(err)
            }
        }
    }

    /// Attaches a volume to a new Machine: same app, region, and unattached.
    pub async fn attach_volume(
        &self,
        app: &str,
        id: &str,
        machine: &str,
        region: &str,
    ) -> HttpResult<()> {
        let (mut volume, rev) = self.volume(app, id).await?;
        if let Some(other) = &volume.attached_machine_id {
            return Err(HttpError::precondition(format!(
                "volume {id} is already attached to machine {other}; a volume mounts into one machine at a time"
            )));
        }
        if volume.region != region {
            return Err(HttpError::precondition(format!(
                "volume {id} is in region {}, the machine in {region}: they must be in the same region",
                volume.region
            )));
        }
        volume.attached_machine_id = Some(machine.to_string());
        volume.attached_alloc_id = Some(machine.to_string());
        self.put_volume(app, &volume, rev).await
    }

    /// Frees the volumes of a destroyed Machine.
    pub async fn detach_volumes_of(&self, app: &str, machine: &str) -> HttpResult<()> {
        for volume in self.list_volumes(app, false).await? {
            if volume.attached_machine_id.as_deref() == Some(machine) {
                self.detach_volume(app, &volume.id).await?;
            }
        }
        Ok(())
    }

    /// Frees one volume from the Machine it is attached to.
    pub async fn detach_volume(&self, app: &str, id: &str) -> HttpResult<()> {
        let (mut volume, rev) = self.volume(app, id).await?;
        volume.attached_machine_id = None;
        volume.attached_alloc_id = None;
        self.put_volume(app, &volume, rev).await
    }

    pub async fn snapshots(&self, app: &str, volume: &str) -> HttpResult<Vec<VolumeSnapshot>> {
        self.volume(app, volume).await?;
        Ok(self
            .store
            .list_json::<VolumeSnapshot>(&snapshot_prefix(app, volume))
            .await?
            .into_iter()
            .map(|(_, s, _)| s)
            .collect())
    }

    pub async fn create_snapshot(&self, app: &str, volume_id: &str) -> HttpResult<VolumeSnapshot> {
        let (volume, _) = self.volume(app, volume_id).await?;
        let id = ids::new_snapshot_id();
        let (size, digest) = self
            .agent
            .volumes()
            .snapshot(volume_id, &id)
            .await
            .map_err(|e| HttpError::internal(e.to_string()))?;
        let snapshot = VolumeSnapshot {
            id: id.clone(),
            size: size as i64,
            digest,
            created_at: now_rfc3339(),
            status: "created".into(),
            retention_days: volume.snapshot_retention,
            volume_size: volume.size_gb,
        };
        self.store
            .put_json(
                &format!("{}{id}", snapshot_prefix(app, volume_id)),
                &snapshot,
            )
            .await?;
        Ok(snapshot)
    }

    async fn find_snapshot(&self, app: &str, snapshot: &str) -> HttpResult<VolumeSnapshot> {
        self.store
            .list_json::<VolumeSnapshot>(&format!("snapshots/{app}/"))
            .await?
            .into_iter()
            .map(|(_, s, _)| s)
            .find(|s| s.id == snapshot)
            .ok_or_else(|| {
                HttpError::not_found(format!("snapshot {snapshot} not found in app {app}"))
            })
    }

    /// The region a request is placed in: the one asked for if a host
    /// serves it, else the first host region.
    pub fn placement_region(&self, asked: Option<&str>) -> HttpResult<String> {
        let regions = self.regions();
        let Some(asked) = asked.map(str::trim).filter(|s| !s.is_empty()) else {
            return Ok(regions[0].clone());
        };
        for candidate in asked.split(',').map(str::trim) {
            if matches!(
                candidate,
                "any" | "us" | "usa" | "na" | "sa" | "eu" | "apac"
            ) {
                return Ok(regions[0].clone());
            }
            if regions.iter().any(|r| r == candidate) {
                return Ok(candidate.to_string());
            }
        }
        Err(HttpError::capacity(format!(
            "no host in region {asked:?}; this platform has hosts in: {}",
            regions.join(", ")
        )))
    }
}

enum StorageSource {
    Snapshot(String),
    Volume(String),
}
