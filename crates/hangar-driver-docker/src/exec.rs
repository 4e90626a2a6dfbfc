//! Docker exec with collected output, stdin and a timeout.

use std::time::Duration;

use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::Docker;
use futures_util::StreamExt;
use hangar_driver::{DriverError, ExecOutput, ExecRequest};
use tokio::io::AsyncWriteExt;

use crate::client::{container_error, message};

/// How long to wait for the daemon to record an exec's exit after its output ended.
const EXIT_RECORD_BOUND: Duration = Duration::from_secs(5);

/// Runs `req` in `container_id` and collects its output and exit code.
pub(crate) async fn run(
    docker: &Docker,
    machine_id: &str,
    container_id: &str,
    req: ExecRequest,
) -> Result<ExecOutput, DriverError> {
    if req.argv.is_empty() {
        return Err(DriverError::ExecFailed {
            machine_id: machine_id.to_owned(),
            reason: "no command given".into(),
        });
    }
    let failed = |reason: String| DriverError::ExecFailed {
        machine_id: machine_id.to_owned(),
        reason,
    };
    let created = docker
        .create_exec(
            container_id,
            CreateExecOptions {
                attach_stdin: Some(req.stdin.is_some()),
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                tty: Some(false),
                env: Some(req.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
                cmd: Some(req.argv.clone()),
                ..Default::default()
            },
        )
        .await
        .map_err(|e| container_error(machine_id, "create exec", &e))?;
    let exec_id = created.id;
    let started = docker
        .start_exec(&exec_id, None)
        .await
        .map_err(|e| failed(message(&e)))?;
    let StartExecResults::Attached {
        mut output,
        mut input,
    } = started
    else {
        return Err(failed("the daemon did not attach to the exec".into()));
    };
    if let Some(bytes) = &req.stdin {
        input
            .write_all(bytes)
            .await
            .map_err(|e| failed(format!("writing stdin: {e}")))?;
    }
    // Closing our end is the command's end of input.
    let _ = input.shutdown().await;
    drop(input);

    let collect = async {
        let mut stdout = Vec::new();
        let mut stderr = Vec::new();
        while let Some(chunk) = output.next().await {
            match chunk {
                Ok(LogOutput::StdOut { message } | LogOutput::Console { message }) => {
                    stdout.extend_from_slice(&message)
                }
                Ok(LogOutput::StdErr { message }) => stderr.extend_from_slice(&message),
                Ok(LogOutput::StdIn { .. }) => {}
                Err(e) => return Err(failed(format!("reading output: {e}"))),
            }
        }
        Ok((stdout, stderr))
    };
    let (stdout, stderr) = match tokio::time::timeout(req.timeout, collect).await {
        Ok(collected) => collected?,
        Err(_) => {
            kill_exec(docker, &exec_id).await;
            return Err(DriverError::ExecTimedOut {
                machine_id: machine_id.to_owned(),
                timeout_ms: req.timeout.as_millis(),
            });
        }
    };
    let exit_code = exit_code(docker, &exec_id)
        .await
        .ok_or_else(|| failed("the daemon did not report the exit code".into()))?;
    Ok(ExecOutput {
        exit_code,
        stdout,
        stderr,
    })
}

/// The exec's exit code once the daemon has recorded it (bounded).
pub(crate) async fn exit_code(docker: &Docker, exec_id: &str) -> Option<i32> {
    let deadline = tokio::time::Instant::now() + EXIT_RECORD_BOUND;
    loop {
        let inspected = docker.inspect_exec(exec_id).await.ok()?;
        if inspected.running != Some(true) {
            if let Some(code) = inspected.exit_code {
                return Some(code as i32);
            }
        }
        if tokio::time::Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Docker cannot stop an exec; its process and every descendant are killed
/// on the host by PID.
pub(crate) async fn kill_exec(docker: &Docker, exec_id: &str) {
    let Ok(inspected) = docker.inspect_exec(exec_id).await else {
        return;
    };
    let Some(pid) = inspected
        .pid
        .and_then(|p| u32::try_from(p).ok())
        .filter(|p| *p > 0)
    else {
        return;
    };
    let tree = tokio::task::spawn_blocking(move || process_tree(pid))
        .await
        .unwrap_or_else(|_| vec![pid]);
    for member in tree {
        let target = nix::unistd::Pid::from_raw(member as i32);
        if let Err(e) = nix::sys::signal::kill(target, nix::sys::signal::Signal::SIGKILL) {
            tracing::debug!(exec = %exec_id, pid = member, error = %e, "cannot kill an exec process");
        }
    }
}

/// `root` and all its descendants (host PIDs), parents first.
fn process_tree(root: u32) -> Vec<u32> {
    let parents: Vec<(u32, u32)> = std::fs::read_dir("/proc")
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
                .filter_map(|pid| Some((pid, parent_of(pid)?)))
                .collect()
        })
        .unwrap_or_default();
    let mut tree = vec![root];
    let mut next = 0;
    while next < tree.len() {
        let parent = tree[next];
        tree.extend(
            parents
                .iter()
                .filter(|(_, p)| *p == parent)
                .map(|(pid, _)| *pid),
        );
        next += 1;
    }
    tree
}

/// The parent PID from `/proc/<pid>/stat` (the field after the command's closing paren).
fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_command = &stat[stat.rfind(')')? + 1..];
    after_command.split_whitespace().nth(1)?.parse().ok()
}
