//! What a deploy does to an existing Machine beyond the config itself.

use hangar_types::{MachineConfig, MachineMount};

use super::{METADATA_RELEASE_ID, METADATA_RELEASE_VERSION};

/// What to do with an existing Machine's volume when its group's `[[mounts]]` changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountUpdate {
    /// No mount before or after.
    None,
    /// Same volume name and path: keep the attached volume (auto-extend settings refreshed).
    Keep,
    /// Same volume, new path: update in place.
    ChangePath,
    /// The Machine must be replaced (mount added, removed, or volume name changed).
    Replace {
        /// Why.
        reason: &'static str,
    },
}

/// Decides how an update treats the mount of `existing` given the `desired` one from fly.toml.
/// When the result is `Keep` or `ChangePath`, the desired mount should take the existing
/// volume id (see [`MachineMount::volume`]).
pub fn plan_mount_update(
    existing: Option<&MachineMount>,
    desired: Option<&MachineMount>,
) -> MountUpdate {
    match (existing, desired) {
        (None, None) => MountUpdate::None,
        (Some(_), None) => MountUpdate::Replace {
            reason: "the mount was removed from fly.toml",
        },
        (None, Some(_)) => MountUpdate::Replace {
            reason: "a mount was added to fly.toml",
        },
        (Some(old), Some(new)) if old.name != new.name => MountUpdate::Replace {
            reason: "the volume name changed",
        },
        (Some(old), Some(new)) if old.path != new.path => MountUpdate::ChangePath,
        _ => MountUpdate::Keep,
    }
}

/// Adds the release metadata (`fly_release_id`, `fly_release_version`) a deploy stamps on Machines.
pub fn stamp_release(config: &mut MachineConfig, release_id: &str, release_version: u64) {
    config
        .metadata
        .insert(METADATA_RELEASE_ID.into(), release_id.into());
    config
        .metadata
        .insert(METADATA_RELEASE_VERSION.into(), release_version.to_string());
}
