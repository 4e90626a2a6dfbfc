//! Errors drivers report.

use std::path::PathBuf;

/// What went wrong in a driver operation.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    /// The spec cannot be run as given.
    #[error("invalid machine spec: {0}")]
    InvalidSpec(String),

    /// The Machine could not be started; the reason says what to fix (image, command, volume, host).
    #[error("machine {machine_id} failed to start: {reason}")]
    StartFailed { machine_id: String, reason: String },

    /// The signal number is not a signal of this host.
    #[error("{0} is not a valid signal number")]
    InvalidSignal(i32),

    /// The task is not (or no longer) running.
    #[error("machine {machine_id} is not running (its task has exited or was cleaned up)")]
    NotRunning { machine_id: String },

    /// The handle was made by another driver or carries unreadable data.
    #[error("task handle for machine {machine_id} is not usable by the {driver} driver: {reason}")]
    BadHandle {
        machine_id: String,
        driver: &'static str,
        reason: String,
    },

    /// The operation is not possible with the isolation this host allows.
    #[error("{operation} is not supported by the {driver} driver on this host: {reason}")]
    Unsupported {
        driver: &'static str,
        operation: &'static str,
        reason: String,
    },

    /// An exec ran past its timeout and was killed.
    #[error("exec in machine {machine_id} timed out after {timeout_ms} ms and was killed")]
    ExecTimedOut {
        machine_id: String,
        timeout_ms: u128,
    },

    /// An exec could not be started (e.g. the program does not exist in the image).
    #[error("exec in machine {machine_id} failed: {reason}")]
    ExecFailed { machine_id: String, reason: String },

    /// A filesystem or system call failed.
    #[error("{action} ({path}): {source}")]
    Io {
        action: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// An external host command (e.g. `ip`) failed.
    #[error("host command `{command}` failed: {detail}")]
    HostCommand { command: String, detail: String },

    /// The host lacks something the driver needs; the message says what to install or enable.
    #[error("host is not set up for this driver: {0}")]
    HostSetup(String),
}

impl DriverError {
    /// Builds an [`DriverError::Io`] naming the action and the path involved.
    pub fn io(action: impl Into<String>, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        DriverError::Io {
            action: action.into(),
            path: path.into(),
            source,
        }
    }
}
