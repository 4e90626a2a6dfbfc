//! Host commands (docker, runc, tar) with a time bound.

use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;

use crate::error::BenchError;

/// How long any single peer command may take before the run gives up.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs `program args…` with stdin closed; its trimmed stdout on success.
pub async fn run(program: &str, args: &[&str]) -> Result<String, BenchError> {
    run_bounded(program, args, COMMAND_TIMEOUT).await
}

/// [`run`] with its own time bound.
pub async fn run_bounded(
    program: &str,
    args: &[&str],
    timeout: Duration,
) -> Result<String, BenchError> {
    let command = format!("{program} {}", args.join(" "));
    let child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|source| BenchError::Spawn {
            command: command.clone(),
            source,
        })?;
    let output = tokio::time::timeout(timeout, child.wait_with_output())
        .await
        .map_err(|_| BenchError::CommandTimeout {
            command: command.clone(),
            timeout,
        })?
        .map_err(|source| BenchError::Spawn {
            command: command.clone(),
            source,
        })?;
    if !output.status.success() {
        return Err(BenchError::CommandFailed {
            command,
            status: output.status.to_string(),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
}

/// Whether `program` can be run at all (`program --version` succeeds).
pub async fn available(program: &str) -> bool {
    run(program, &["--version"]).await.is_ok()
}

/// Runs a command whose children outlive it (`runc create`): every stdio
/// stream is /dev/null so that no pipe is held open by the container.
pub async fn run_detached(program: &str, args: &[&str]) -> Result<(), BenchError> {
    let command = format!("{program} {}", args.join(" "));
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|source| BenchError::Spawn {
            command: command.clone(),
            source,
        })?;
    let status = tokio::time::timeout(COMMAND_TIMEOUT, child.wait())
        .await
        .map_err(|_| BenchError::CommandTimeout {
            command: command.clone(),
            timeout: COMMAND_TIMEOUT,
        })?
        .map_err(|source| BenchError::Spawn {
            command: command.clone(),
            source,
        })?;
    if !status.success() {
        return Err(BenchError::CommandFailed {
            command,
            status: status.to_string(),
            stderr: "(stdio detached; rerun the command by hand to see why)".into(),
        });
    }
    Ok(())
}
