//! What the process driver keeps in a [`TaskHandle`]'s `data`, and liveness checks.

use std::path::{Path, PathBuf};

use hangar_driver::{DriverError, TaskHandle};
use serde::{Deserialize, Serialize};

use crate::cgroup::MachineCgroups;

/// Name recorded in every handle this driver creates.
pub(crate) const DRIVER_NAME: &str = "process";

/// How a task was started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum RunMode {
    /// Namespaces, overlay root, cgroups: `pid` is the monitor of `hangar-machine-init`.
    Isolated,
    /// A plain host process in its own session: `pid` is the workload itself.
    Unisolated,
}

/// Driver state of one task, persisted by the agent inside the handle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct HandleData {
    pub mode: RunMode,
    pub instance_id: String,
    /// Writable layer, config and scratch files of this task.
    pub task_dir: PathBuf,
    pub cgroups: MachineCgroups,
    /// Host end of the Machine's veth, when it has a network.
    pub veth: Option<String>,
    /// Start time of `pid` in clock ticks since boot, to detect PID reuse.
    pub start_ticks: u64,
}

impl HandleData {
    /// Reads the data of a handle made by this driver.
    pub(crate) fn from_handle(handle: &TaskHandle) -> Result<HandleData, DriverError> {
        let bad = |reason: String| DriverError::BadHandle {
            machine_id: handle.machine_id.clone(),
            driver: DRIVER_NAME,
            reason,
        };
        if handle.driver != DRIVER_NAME {
            return Err(bad(format!(
                "it was made by the {:?} driver",
                handle.driver
            )));
        }
        serde_json::from_value(handle.data.clone()).map_err(|e| bad(e.to_string()))
    }

    /// Builds the handle for a started task.
    pub(crate) fn into_handle(self, machine_id: &str, pid: u32) -> TaskHandle {
        TaskHandle {
            machine_id: machine_id.to_owned(),
            driver: DRIVER_NAME.to_owned(),
            pid,
            data: serde_json::to_value(&self).expect("handle data serializes"),
        }
    }
}

/// The file in a task's directory that holds its handle, written as soon as
/// the task's top process exists: if the agent dies before it records the
/// handle, the next start of the Machine finds the task through this file.
const TASK_FILE: &str = "task.json";

/// Writes `handle` into its task directory (see [`TASK_FILE`]).
pub(crate) fn write_task_file(handle: &TaskHandle, task_dir: &Path) -> Result<(), DriverError> {
    let path = task_dir.join(TASK_FILE);
    let json = serde_json::to_vec(handle).expect("task handle serializes");
    std::fs::write(&path, json).map_err(|e| DriverError::io("writing the task file", &path, e))
}

/// The handle an earlier start wrote into `task_dir`, if any.
pub(crate) fn read_task_file(task_dir: &Path) -> Option<TaskHandle> {
    let json = std::fs::read(task_dir.join(TASK_FILE)).ok()?;
    serde_json::from_slice(&json).ok()
}

/// Fields of `/proc/<pid>/stat` after the command name (field 3 onwards).
pub(crate) fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_comm = &stat[stat.rfind(')')? + 2..];
    Some(after_comm.split_whitespace().map(str::to_owned).collect())
}

/// Start time of `pid` in clock ticks since boot.
pub(crate) fn start_ticks(pid: u32) -> Option<u64> {
    stat_fields(pid)?.get(19)?.parse().ok()
}

/// True when `pid` is still the (non-zombie) process the handle was made for.
pub(crate) fn is_alive(pid: u32, expected_start_ticks: u64) -> bool {
    match stat_fields(pid) {
        Some(fields) => {
            fields.first().map(String::as_str) != Some("Z")
                && fields.get(19).and_then(|t| t.parse::<u64>().ok()) == Some(expected_start_ticks)
        }
        None => false,
    }
}

/// Fails with [`DriverError::NotRunning`] unless the task's top process is alive.
pub(crate) fn ensure_running(handle: &TaskHandle, data: &HandleData) -> Result<(), DriverError> {
    if is_alive(handle.pid, data.start_ticks) {
        Ok(())
    } else {
        Err(DriverError::NotRunning {
            machine_id: handle.machine_id.clone(),
        })
    }
}
