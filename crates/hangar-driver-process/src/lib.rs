//! The process driver: runs each Machine as a tree of host processes.
//!
//! As root, every Machine gets its own PID, mount, UTS, IPC and network
//! namespaces, an overlayfs root built from the image's shared layers plus a
//! fresh writable layer, cgroup limits (memory, CPU, pids; v1 or v2) with a
//! freezer for suspend, and a veth on a host bridge carrying its private IPv4
//! and IPv6 addresses. PID 1 inside is `hangar-machine-init` ([`machine_init_main`]).
//!
//! Where the host does not allow this (not root, no namespaces, no overlayfs),
//! Machines run as plain host processes and [`hangar_driver::Driver::isolation`]
//! says so, with reasons. Missing pieces (a cgroup controller, `ip`) give
//! `Isolation::Partial` with reasons.
//!
//! # Embedding the init in another binary
//!
//! The init must run before any thread exists, so a binary that embeds it
//! dispatches first thing in `main`, before building a tokio runtime:
//!
//! ```no_run
//! let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
//! if args.get(1).and_then(|a| a.to_str()) == Some("machine-init") {
//!     hangar_driver_process::machine_init_main(args[2..].to_vec());
//! }
//! // ... later:
//! let mut config = hangar_driver_process::ProcessDriverConfig::new(
//!     "/var/lib/hangar/driver",
//!     std::env::current_exe().unwrap(),
//! );
//! config.init_args = vec!["machine-init".into()];
//! ```
//!
//! # Host resources
//!
//! Per task: a directory `state_dir/machines/<machine>-<instance>` (config,
//! writable layer), cgroups named the same under `hangar/` below the driver's
//! own cgroup in every hierarchy, and a veth `hg<hash>` on the bridge. The
//! overlay root and every other mount exist only in the Machine's mount
//! namespace, so they vanish with it. `cleanup` and `recover` remove the rest.

mod bridge_subnet;
mod cgroup;
mod config;
mod console;
mod driver;
mod handle;
mod init;
mod isolated;
mod netlink;
mod network;
mod probe;
mod protocol;
mod ps;
mod unisolated;
mod wait;

pub use bridge_subnet::MachineAddress;
pub use config::{ProcessDriverConfig, DEFAULT_BRIDGE};
pub use driver::ProcessDriver;
pub use init::machine_init_main;
/// Describes host processes in the shape of Fly's `ps` (also used by the Docker driver).
pub use ps::describe as describe_host_processes;
