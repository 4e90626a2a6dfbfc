//! The driver conformance suite: the behaviour every [`Driver`] must show.
//!
//! Each check is an async function taking the driver under test and a
//! [`TestImage`]; it panics with a message naming the broken expectation, so
//! drivers call them from ordinary `#[tokio::test]`s. [`run_all`] runs every
//! check in sequence. Checks that need isolation (user switching, hostname,
//! freezing a whole machine) are skipped — with a loud message — for drivers
//! reporting [`crate::Isolation::None`].

mod config;
mod console;
mod exec;
mod harness;
mod leftovers;
mod lifecycle;

use std::path::PathBuf;

use crate::Driver;

pub use config::{
    check_env_workdir_user, check_hostname_is_machine_id, check_missing_program, check_volume_mount,
};
pub use console::check_console;
pub use exec::{check_exec, check_exec_timeout, check_ps};
pub use harness::{base_spec, collect_output, unique_machine_id, wait_exit, TaskOutput};
pub use leftovers::{check_cleanup_leaves_nothing, check_recover_kills_survivors};
pub use lifecycle::{
    check_freeze_thaw, check_kill, check_output_and_exit_code, check_signal_terminates,
    check_signal_trap,
};

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

/// Runs every check of the suite against `driver`, one after another.
pub async fn run_all(driver: &dyn Driver, image: &TestImage) {
    eprintln!(
        "conformance: driver {} with {}",
        driver.name(),
        driver.isolation()
    );
    check_output_and_exit_code(driver, image).await;
    check_signal_trap(driver, image).await;
    check_signal_terminates(driver, image).await;
    check_kill(driver, image).await;
    check_freeze_thaw(driver, image).await;
    check_exec(driver, image).await;
    check_exec_timeout(driver, image).await;
    check_ps(driver, image).await;
    check_console(driver, image).await;
    check_env_workdir_user(driver, image).await;
    check_hostname_is_machine_id(driver, image).await;
    check_volume_mount(driver, image).await;
    check_missing_program(driver, image).await;
    check_cleanup_leaves_nothing(driver, image).await;
    check_recover_kills_survivors(driver, image).await;
}
