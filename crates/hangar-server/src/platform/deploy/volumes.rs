//! Volumes of Machines a deploy creates, updates, destroys or puts back.
//!
//! fly.toml's `[mounts]` name a volume (`source`), not a volume id. A
//! Machine the deploy creates claims a volume of that name: first one
//! already attached to it (a deploy resumed after a restart), then an
//! unattached one in its region, else a new one (`DEFAULT_SIZE_GB`, as
//! flyctl does for a first deploy). An update keeps the Machine's volume
//! (the plan carries the id over). A destroyed Machine's volumes are
//! detached, never deleted, so a later deploy or a revert reuses them and
//! no data is lost.

use hangar_config::machine::{plan_mount_update, MountUpdate};
use hangar_types::{CreateVolumeRequest, MachineConfig, Volume};

use crate::platform::ControlPlane;

/// Size of a volume created for a mount that names no existing volume.
const DEFAULT_SIZE_GB: i64 = 1;

/// Gives `desired` the volume id of `existing`'s mount when the mount is
/// kept (same volume name), so an update neither changes nor loses it.
pub fn carry_volume(existing: &MachineConfig, desired: &mut MachineConfig) {
    let (Some(old), Some(new)) = (existing.mounts.first(), desired.mounts.first_mut()) else {
        return;
    };
    if matches!(
        plan_mount_update(Some(old), Some(new)),
        MountUpdate::Keep | MountUpdate::ChangePath
    ) && new.volume.is_empty()
    {
        new.volume = old.volume.clone();
    }
}

impl ControlPlane {
    /// Makes every mount of `config` name a volume attached to `machine`,
    /// claiming or creating one by name where the mount has no id yet.
    pub(super) async fn claim_mounts(
        &self,
        app: &str,
        machine: &str,
        region: &str,
        config: &mut MachineConfig,
    ) -> Result<(), String> {
        for mount in &mut config.mounts {
            let volume = if mount.volume.is_empty() {
                let Some(name) = mount.name.clone() else {
                    return Err(format!(
                        "the mount at {} names no volume: set `source` in fly.toml's [mounts]",
                        mount.path
                    ));
                };
                let volume = self.volume_for(app, machine, region, &name).await?;
                mount.volume = volume.id.clone();
                volume
            } else {
                self.volume(app, &mount.volume)
                    .await
                    .map_err(|e| format!("volume {}: {}", mount.volume, e.body.error))?
                    .0
            };
            if volume.attached_machine_id.as_deref() != Some(machine) {
                self.attach_volume(app, &mount.volume, machine, region)
                    .await
                    .map_err(|e| format!("volume {}: {}", mount.volume, e.body.error))?;
            }
        }
        Ok(())
    }

    /// A volume named `name` for `machine`: one already attached to it,
    /// else a free one in `region`, else a new one.
    async fn volume_for(
        &self,
        app: &str,
        machine: &str,
        region: &str,
        name: &str,
    ) -> Result<Volume, String> {
        let volumes = self
            .list_volumes(app, false)
            .await
            .map_err(|e| format!("cannot list volumes: {}", e.body.error))?;
        let named = || volumes.iter().filter(|v| v.name == name);
        if let Some(mine) = named().find(|v| v.attached_machine_id.as_deref() == Some(machine)) {
            return Ok(mine.clone());
        }
        if let Some(free) = named().find(|v| v.attached_machine_id.is_none() && v.region == region)
        {
            return Ok(free.clone());
        }
        self.create_volume(
            app,
            CreateVolumeRequest {
                name: name.to_string(),
                region: Some(region.to_string()),
                size_gb: Some(DEFAULT_SIZE_GB),
                ..CreateVolumeRequest::default()
            },
        )
        .await
        .map_err(|e| format!("cannot create volume {name:?}: {}", e.body.error))
    }

    /// Detaches the volumes attached to `machine` that `config` (its config
    /// now, or none once destroyed) no longer mounts.
    pub(super) async fn release_unmounted(
        &self,
        app: &str,
        machine: &str,
        config: Option<&MachineConfig>,
    ) -> Result<(), String> {
        let volumes = self
            .list_volumes(app, false)
            .await
            .map_err(|e| format!("cannot list volumes: {}", e.body.error))?;
        for volume in volumes {
            let mounted = config.is_some_and(|c| c.mounts.iter().any(|m| m.volume == volume.id));
            if volume.attached_machine_id.as_deref() == Some(machine) && !mounted {
                self.detach_volume(app, &volume.id)
                    .await
                    .map_err(|e| format!("volume {}: {}", volume.id, e.body.error))?;
            }
        }
        Ok(())
    }
}
