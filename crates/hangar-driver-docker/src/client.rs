//! Connecting to the daemon and turning its errors into [`DriverError`]s.

use std::path::Path;

use bollard::errors::Error as DockerError;
use bollard::Docker;
use hangar_driver::DriverError;

/// Seconds a single daemon request may take before it fails.
const REQUEST_TIMEOUT_SECS: u64 = 300;

/// Connects to the daemon at `socket` and agrees on an API version with it.
pub(crate) async fn connect(socket: &Path) -> Result<Docker, DriverError> {
    let unreachable = |detail: String| {
        DriverError::HostSetup(format!(
            "the Docker daemon is not reachable at {}: {detail} (start dockerd, or pass \
             --driver process)",
            socket.display()
        ))
    };
    let path = socket
        .to_str()
        .ok_or_else(|| unreachable("the socket path is not UTF-8".into()))?;
    let docker =
        Docker::connect_with_unix(path, REQUEST_TIMEOUT_SECS, bollard::API_DEFAULT_VERSION)
            .map_err(|e| unreachable(e.to_string()))?;
    docker
        .negotiate_version()
        .await
        .map_err(|e| unreachable(e.to_string()))
}

/// The HTTP status of a daemon error response, if it is one.
pub(crate) fn status_of(error: &DockerError) -> Option<u16> {
    match error {
        DockerError::DockerResponseServerError { status_code, .. } => Some(*status_code),
        _ => None,
    }
}

/// True for "no such container/image/network".
pub(crate) fn is_not_found(error: &DockerError) -> bool {
    status_of(error) == Some(404)
}

/// The daemon's message (without bollard's framing) for use in error texts.
pub(crate) fn message(error: &DockerError) -> String {
    match error {
        DockerError::DockerResponseServerError { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

/// A daemon call that failed, as a host command error naming the call.
pub(crate) fn daemon_error(call: &str, error: &DockerError) -> DriverError {
    DriverError::HostCommand {
        command: format!("docker API {call}"),
        detail: message(error),
    }
}

/// Maps errors of operations on a started container: 404 or 409 mean it is gone
/// or not running.
pub(crate) fn container_error(machine_id: &str, call: &str, error: &DockerError) -> DriverError {
    match status_of(error) {
        Some(404) | Some(409) => DriverError::NotRunning {
            machine_id: machine_id.to_owned(),
        },
        _ => daemon_error(call, error),
    }
}
