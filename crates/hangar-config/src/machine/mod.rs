//! Machine configs produced from a fly.toml, in the JSON shape of the Machines API `MachineConfig`.
//!
//! The config types are `hangar-types`' wire types (re-exported here), so the platform has one
//! `MachineConfig`; an update starts from the existing config and replaces only the fields
//! fly.toml manages, so fields it does not manage (`rootfs`, `containers`, `processes`, …) are
//! kept.

mod convert;
mod guest;
mod special;
mod update;

pub use convert::{ConvertError, TOOL_VERSION};
pub use guest::{guest_for_size, resolve_compute, GuestError, PRESET_NAMES};
pub use hangar_types::{
    AutostopMode, DnsConfig, MachineCheck, MachineConfig, MachineFile, MachineGuest,
    MachineHttpHeader, MachineInit, MachineMetrics, MachineMount, MachinePort, MachineRestart,
    MachineRootfs, MachineService, RestartPolicy, ServiceConcurrency, Static, StopConfig,
};
pub use special::{OriginMachine, CONSOLE_GROUP, RELEASE_COMMAND_GROUP, TEST_MACHINE_GROUP};
pub use update::{plan_mount_update, stamp_release, MountUpdate};

/// Metadata key naming a Machine's process group.
pub const METADATA_PROCESS_GROUP: &str = "fly_process_group";
/// Legacy metadata key for the process group (still read).
pub const METADATA_LEGACY_PROCESS_GROUP: &str = "process_group";
/// Metadata key marking a Fly Launch-managed Machine (`v2`).
pub const METADATA_PLATFORM_VERSION: &str = "fly_platform_version";
/// Metadata key with the release id.
pub const METADATA_RELEASE_ID: &str = "fly_release_id";
/// Metadata key with the release version.
pub const METADATA_RELEASE_VERSION: &str = "fly_release_version";
/// Metadata key with the version of the tool that wrote the config.
pub const METADATA_TOOL_VERSION: &str = "fly_flyctl_version";
/// Value of [`METADATA_PLATFORM_VERSION`].
pub const PLATFORM_VERSION_V2: &str = "v2";
