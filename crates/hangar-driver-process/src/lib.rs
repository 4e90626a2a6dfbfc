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
//! says so, with reasons.

mod cgroup;
mod config;
mod driver;
mod handle;
mod init;
mod isolated;
mod network;
mod probe;
mod protocol;
mod ps;
mod unisolated;
mod wait;

pub use config::{ProcessDriverConfig, DEFAULT_BRIDGE};
pub use driver::ProcessDriver;
pub use init::machine_init_main;
