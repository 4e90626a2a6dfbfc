//! Console sessions: a command on a pseudo-terminal inside a Machine.
//!
//! Isolated Machines get their terminal from their own `/dev/ptmx`: the
//! `console` helper of `hangar-machine-init` allocates it after joining the
//! Machine and passes the master side back over a unix socket. Unisolated
//! Machines get a host pseudo-terminal.

mod pty;

use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::time::Duration;

use hangar_driver::{ConsoleRequest, ConsoleSession, DriverError, TaskHandle};
use tokio::io::AsyncReadExt;
use tokio::process::Command;

use crate::driver::ProcessDriver;
use crate::handle::{ensure_running, HandleData};
use crate::isolated::first_child;
use crate::protocol::{self, ConsoleConfig, ExecConfig, Workload};
use crate::unisolated::unisolated_command;
use pty::{set_cloexec, Pty};

/// How long the helper may take to join the Machine and hand over the terminal.
const HANDOVER_TIMEOUT: Duration = Duration::from_secs(30);

fn exec_failed(machine_id: &str, reason: impl Into<String>) -> DriverError {
    DriverError::ExecFailed {
        machine_id: machine_id.to_owned(),
        reason: reason.into(),
    }
}

/// The exit code of a finished command (`128 + n` for a fatal signal `n`).
fn exit_code(status: std::process::ExitStatus) -> i32 {
    status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}

/// Builds the session around a spawned child that owns the terminal's other side.
fn session(pty: Pty, mut child: tokio::process::Child, machine_id: String) -> ConsoleSession {
    let (output, input, resize) = pty.split();
    let mut stderr = child.stderr.take();
    ConsoleSession {
        output: Box::pin(output),
        input: Box::pin(input),
        resize: Box::new(resize),
        exit: Box::pin(async move {
            // Only a failing helper writes here; drain it so it can never block.
            let drain = async {
                if let Some(stderr) = stderr.as_mut() {
                    let mut sink = Vec::new();
                    let _ = stderr.read_to_end(&mut sink).await;
                }
            };
            let (_, status) = tokio::join!(drain, child.wait());
            status
                .map(exit_code)
                .map_err(|e| exec_failed(&machine_id, format!("waiting for the console: {e}")))
        }),
    }
}

/// Receives the terminal's master side from the helper; `None` if it closed the socket without one.
fn receive_terminal(socket: UnixStream) -> std::io::Result<Option<OwnedFd>> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    use std::os::fd::FromRawFd;
    socket.set_read_timeout(Some(HANDOVER_TIMEOUT))?;
    let mut byte = [0u8; 1];
    let mut iov = [std::io::IoSliceMut::new(&mut byte)];
    let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let message = recvmsg::<()>(
        socket.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .map_err(std::io::Error::from)?;
    for cmsg in message.cmsgs().map_err(std::io::Error::from)? {
        if let ControlMessageOwned::ScmRights(fds) = cmsg {
            // SAFETY: the kernel just installed these descriptors for this process.
            let mut owned = fds
                .into_iter()
                .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) });
            return Ok(owned.next());
        }
    }
    Ok(None)
}

impl ProcessDriver {
    pub(crate) async fn console_isolated(
        &self,
        handle: &TaskHandle,
        data: &HandleData,
        req: ConsoleRequest,
    ) -> Result<ConsoleSession, DriverError> {
        ensure_running(handle, data)?;
        let machine_id = handle.machine_id.clone();
        let guest_init_pid = first_child(handle.pid).ok_or_else(|| DriverError::NotRunning {
            machine_id: machine_id.clone(),
        })?;
        let config = ConsoleConfig {
            join: ExecConfig {
                guest_init_pid,
                cgroup_procs: data.cgroups.procs_files(),
                workload: Workload {
                    argv: req.argv,
                    env: req.env,
                    user: None,
                    workdir: None,
                },
            },
            cols: req.size.cols,
            rows: req.size.rows,
        };
        let (ours, theirs) = UnixStream::pair()
            .map_err(|e| exec_failed(&machine_id, format!("creating a socket pair: {e}")))?;
        let mut command = Command::new(&self.config.init_exe);
        command
            .args(&self.config.init_args)
            .arg(protocol::CONSOLE)
            .arg(serde_json::to_string(&config).expect("console config serializes"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let theirs_raw = theirs.as_raw_fd();
        // SAFETY: dup2 and fcntl are plain system calls, safe between fork and exec.
        unsafe {
            command.pre_exec(move || {
                if theirs_raw == protocol::CONSOLE_FD {
                    set_cloexec(theirs_raw, false)
                } else if libc::dup2(theirs_raw, protocol::CONSOLE_FD) < 0 {
                    Err(std::io::Error::last_os_error())
                } else {
                    Ok(())
                }
            });
        }
        let mut child = command
            .spawn()
            .map_err(|e| exec_failed(&machine_id, format!("starting the console helper: {e}")))?;
        drop(theirs);
        let received = tokio::task::spawn_blocking(move || receive_terminal(ours))
            .await
            .map_err(|e| exec_failed(&machine_id, format!("receiving the terminal: {e}")))?;
        match received {
            Ok(Some(master)) => {
                let pty = Pty::new(master)
                    .map_err(|e| exec_failed(&machine_id, format!("using the terminal: {e}")))?;
                Ok(session(pty, child, machine_id))
            }
            failed => {
                let _ = child.start_kill();
                let mut stderr = String::new();
                if let Some(mut pipe) = child.stderr.take() {
                    let _ = pipe.read_to_string(&mut stderr).await;
                }
                let _ = child.wait().await;
                let reason = match failed {
                    Err(e) => format!("receiving the terminal from the console helper: {e}"),
                    _ if stderr.trim().is_empty() => {
                        "the console helper ended without a terminal".to_owned()
                    }
                    _ => stderr.trim().to_owned(),
                };
                Err(exec_failed(&machine_id, reason))
            }
        }
    }

    pub(crate) async fn console_unisolated(
        &self,
        handle: &TaskHandle,
        data: &HandleData,
        req: ConsoleRequest,
    ) -> Result<ConsoleSession, DriverError> {
        ensure_running(handle, data)?;
        let machine_id = handle.machine_id.clone();
        let (pty, terminal) = Pty::open(req.size)
            .map_err(|e| exec_failed(&machine_id, format!("opening a pseudo-terminal: {e}")))?;
        let rootfs = data.task_dir.join("rootfs");
        let mut command = unisolated_command(&rootfs, &req.argv, &req.env, &rootfs);
        let stdio = |fd: &OwnedFd| -> Result<Stdio, DriverError> {
            fd.try_clone()
                .map(Stdio::from)
                .map_err(|e| exec_failed(&machine_id, format!("duplicating the terminal: {e}")))
        };
        command
            .stdin(stdio(&terminal)?)
            .stdout(stdio(&terminal)?)
            .stderr(stdio(&terminal)?)
            .kill_on_drop(true);
        // SAFETY: ioctl is a plain system call, safe between fork and exec. It
        // runs after the command's setsid, with the terminal already on fd 0.
        unsafe {
            command.pre_exec(|| {
                if libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command.spawn().map_err(|e| {
            exec_failed(&machine_id, format!("running {:?}: {e}", req.argv.first()))
        })?;
        // Only the command may hold the terminal side, or the output never ends.
        drop(command);
        drop(terminal);
        Ok(session(pty, child, machine_id))
    }
}
