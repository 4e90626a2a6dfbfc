//! Volumes of Machines a deploy creates, updates, destroys or puts back.
//!
//! fly.toml's `[mounts]` name a volume (`source`), not a volume id. A
//! Machine the deploy creates claims a volume of that name: first one
//! already attached to it (a deploy resumed after a restart), then an
//! unattached one in its region, else a new one of the mount's `size_gb`
//! (the plan puts `initial_size` there) or 1 GB, as flyctl does
//! ([`ControlPlane::claim_volume_by_name`], shared with Machine creation).
//! An update keeps the Machine's volume (the plan carries the id over). A destroyed Machine's volumes are
//! detached, never deleted, so a later deploy or a revert reuses them and
//! no data is lost.

use hangar_config::machine::{plan_mount_update, MountUpdate};
use hangar_types::MachineConfig;

use crate::platform::ControlPlane;

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
                let claimed = self
                    .claim_volume_by_name(app, machine, region, &name, mount.size_gb.take())
                    .await
                    .map_err(|e| e.body.error)?;
                mount.volume = claimed.volume.id.clone();
                claimed.volume
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
