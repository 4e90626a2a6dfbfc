//! What the driver tells `hangar-machine-init`: its subcommands and their JSON configs.
//!
//! The driver and the init are the same crate, so the format needs no versioning;
//! it only has to survive being passed through a file or an argument.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Subcommand: start a Machine (`run <guest-config.json>`).
pub(crate) const RUN: &str = "run";
/// Subcommand: run a command inside a Machine (`exec <exec-config-json>`).
pub(crate) const EXEC: &str = "exec";
/// Subcommand: run a command inside a Machine on a new pseudo-terminal
/// (`console <console-config-json>`).
pub(crate) const CONSOLE: &str = "console";
/// Subcommand: exit 0 (used to check that namespaces can be created).
pub(crate) const PROBE: &str = "probe";

/// The file descriptor on which the init reports setup failures to the driver.
/// It reaches end-of-file once the workload has been exec'd.
pub(crate) const REPORT_FD: i32 = 3;

/// The unix socket on which a console helper sends the terminal's master
/// side to the driver (`SCM_RIGHTS`). It closes without one if setup failed.
pub(crate) const CONSOLE_FD: i32 = 3;

/// The byte the driver writes on the init's stdin once the init is in the
/// Machine's cgroups: it may fork the Machine's PID 1, which builds the root.
pub(crate) const CGROUPS_READY: u8 = b'c';
/// What the driver writes next, then closes stdin, once the network is in
/// place: PID 1 may start the workload.
pub(crate) const GO: &[u8] = b"go";

/// Exit code of the init when the Machine could not be set up.
pub(crate) const EXIT_SETUP_FAILED: i32 = 125;
/// Exit code when the workload's program could not be executed.
pub(crate) const EXIT_EXEC_FAILED: i32 = 127;

/// How to build the Machine's root and start its main process.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct GuestConfig {
    pub hostname: String,
    /// Image layers, bottom first.
    pub layers: Vec<PathBuf>,
    pub upper_dir: PathBuf,
    pub work_dir: PathBuf,
    /// Where the overlay is mounted (inside the Machine's mount namespace only).
    pub rootfs: PathBuf,
    pub mounts: Vec<GuestMount>,
    /// Contents of `/etc/hosts`.
    pub hosts: String,
    /// Contents of `/etc/resolv.conf` (`None` leaves the image's file).
    pub resolv_conf: Option<String>,
    pub workload: Workload,
}

/// A host directory bind-mounted into the Machine.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct GuestMount {
    pub host_path: PathBuf,
    pub guest_path: String,
    /// Remounted read-only after binding (the host's system directories of
    /// a `FROM host` image).
    #[serde(default)]
    pub read_only: bool,
}

/// A program to run inside the Machine, and as whom.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Workload {
    pub argv: Vec<String>,
    pub env: Vec<(String, String)>,
    pub user: Option<String>,
    pub workdir: Option<String>,
}

/// How to join a running Machine for an exec.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ExecConfig {
    /// Host PID of the Machine's PID 1.
    pub guest_init_pid: u32,
    /// `cgroup.procs` files the exec process joins.
    pub cgroup_procs: Vec<PathBuf>,
    pub workload: Workload,
}

/// How to run a command on a pseudo-terminal inside a running Machine.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ConsoleConfig {
    pub join: ExecConfig,
    pub cols: u16,
    pub rows: u16,
}
