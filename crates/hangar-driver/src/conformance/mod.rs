//! The driver conformance suite: the behaviour every [`Driver`] must show.
//!
//! Each check is an async function taking the driver under test and a
//! [`TestImage`] (such as [`TestImage::busybox`]); it panics with a message
//! naming the broken expectation. A driver's tests run them one
//! `#[tokio::test]` each with [`conformance_tests!`](crate::conformance_tests),
//! or all in sequence with [`run_all`]. Checks that need isolation (user switching, hostname,
//! freezing a whole machine) are skipped — with a loud message — for drivers
//! reporting [`crate::Isolation::None`].

mod busybox;
mod config;
mod console;
mod exec;
mod harness;
mod leftovers;
mod lifecycle;
mod suite;

use std::path::PathBuf;

pub use config::{
    check_env_workdir_user, check_hostname_is_machine_id, check_missing_program, check_volume_mount,
};
pub use console::check_console;
pub use exec::{check_exec, check_exec_timeout, check_ps};
pub use harness::{base_spec, collect_output, unique_machine_id, wait_exit, TaskOutput};
pub use leftovers::{
    check_cleanup_leaves_nothing, check_recover_kills_survivors,
    check_start_replaces_an_unrecorded_task,
};
pub use lifecycle::{
    check_freeze_thaw, check_kill, check_output_and_exit_code, check_signal_terminates,
    check_signal_trap,
};
pub use suite::run_all;

/// An image prepared for the suite: unpacked layers, bottom first.
///
/// The merged layers must provide a busybox-style userland: `/bin/sh` with
/// `trap`, and `sleep`, `cat`, `echo`, `stty`, `tty`, `id`, `pwd`, `hostname`, `httpd` on
/// `PATH=/bin`; an `/etc/passwd` with the user `nobody` (uid 65534, gid
/// 65534); and a `/tmp` directory.
#[derive(Debug, Clone)]
pub struct TestImage {
    pub layers: Vec<PathBuf>,
}
