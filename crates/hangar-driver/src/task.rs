//! A started Machine: its persisted handle, output streams and exit.

use std::future::Future;
use std::pin::Pin;

use serde::{Deserialize, Serialize};
use tokio::io::AsyncRead;

/// Identifies a running task across agent restarts; the agent persists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskHandle {
    pub machine_id: String,
    /// Name of the driver that started the task.
    pub driver: String,
    /// Host PID of the task's top process.
    pub pid: u32,
    /// Driver-specific state needed to control and clean up the task.
    pub data: serde_json::Value,
}

/// What [`crate::Driver::start`] returns.
pub struct StartedTask {
    pub handle: TaskHandle,
    /// The Machine's standard output; ends when the Machine exits.
    pub stdout: Pin<Box<dyn AsyncRead + Send>>,
    /// The Machine's standard error; ends when the Machine exits.
    pub stderr: Pin<Box<dyn AsyncRead + Send>>,
    /// Resolves once the Machine has exited.
    pub exit: Pin<Box<dyn Future<Output = ExitInfo> + Send>>,
}

impl std::fmt::Debug for StartedTask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StartedTask")
            .field("handle", &self.handle)
            .finish_non_exhaustive()
    }
}

/// How a Machine's main process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ExitInfo {
    /// The exit code, when the process exited normally.
    pub exit_code: Option<i32>,
    /// The signal that killed the process, if one did.
    pub signal: Option<i32>,
    /// True when the Machine ran out of memory and the kernel killed a process.
    pub oom_killed: bool,
}
