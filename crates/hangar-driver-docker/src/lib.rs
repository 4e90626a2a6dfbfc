//! The Docker driver: runs each Machine as a Docker Engine container.
//!
//! The agent hands the driver an image as unpacked layer directories; Docker
//! cannot read those, so the driver packs them into a `docker save` archive
//! and loads it into the daemon once per image ([`image`]). Every Machine is a
//! container named `hangar-<machine id>`, labelled with its machine, app and
//! instance IDs, with restart policy `no` (restarts are the agent's job), the
//! Machine's resource limits, bind-mounted volumes and — when the spec has a
//! network — a static address on a Hangar-managed bridge network whose subnet
//! is the agent's ([`network`]). Output comes from attaching to the container
//! before it starts; exit codes and OOM kills from waiting on and inspecting it.
//!
//! Housekeeping: containers labelled with this driver's owner but belonging
//! to no Machine the agent knows are removed at start-up ([`orphans`]);
//! loaded images no Machine uses any more — no container runs them and no
//! Machine the agent has, in any state, last started from them — are removed
//! after a grace period ([`image_gc`]). `FROM host` images get the host's
//! system directories, read-only ([`host_base`]).
//!
//! Talks to the daemon over its local unix socket only (so the host's
//! directories are the daemon's).

mod client;
mod config;
mod console;
mod container;
mod driver;
mod exec;
mod handle;
mod host_base;
mod image;
mod image_gc;
mod layer_tar;
mod network;
mod orphans;
mod output;
mod ps;

pub use config::DockerDriverConfig;
pub use driver::DockerDriver;
pub use image::image_tag;
pub use image_gc::pin_tag;

/// Label every object the driver creates carries (`dev.hangar.managed=true`).
pub const MANAGED_LABEL: &str = "dev.hangar.managed";
/// Label carrying the owner ([`DockerDriverConfig::owner`]) on containers and images.
pub const OWNER_LABEL: &str = "dev.hangar.owner";
/// Label carrying the Machine ID on a container.
pub const MACHINE_LABEL: &str = "dev.hangar.machine-id";
/// Label carrying the app name on a container.
pub const APP_LABEL: &str = "dev.hangar.app";
/// Label carrying the instance ID on a container.
pub const INSTANCE_LABEL: &str = "dev.hangar.instance-id";
