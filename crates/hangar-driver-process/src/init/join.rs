//! `exec <config>`: run one command inside a running Machine.
//!
//! The helper joins the Machine's cgroups and namespaces and its root, then
//! forks the command (the fork lands in the Machine's PID namespace), waits
//! for it and exits with its status (`128 + n` for a fatal signal `n`). On
//! SIGTERM (the driver's timeout) it kills the command's whole process group.

use std::os::fd::OwnedFd;

use nix::fcntl::{open, OFlag};
use nix::sched::{setns, CloneFlags};
use nix::sys::prctl::set_pdeathsig;
use nix::sys::signal::{kill, killpg, Signal};
use nix::sys::stat::Mode;
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{chroot, fchdir, fork, getpid, ForkResult, Pid};

use super::{signals, workload};
use crate::protocol::{ExecConfig, EXIT_EXEC_FAILED, EXIT_SETUP_FAILED};

fn fail(message: String) -> ! {
    eprintln!("hangar-machine-init exec: {message}");
    std::process::exit(EXIT_SETUP_FAILED)
}

/// Namespaces joined, in order (the mount namespace last: it changes what paths mean).
const NAMESPACES: [&str; 5] = ["ipc", "uts", "net", "pid", "mnt"];

pub(super) fn exec(config_json: &str) -> ! {
    let config: ExecConfig =
        serde_json::from_str(config_json).unwrap_or_else(|e| fail(format!("bad exec config: {e}")));
    if let Err(message) = enter_machine(&config) {
        fail(message);
    }
    if let Err(e) = signals::catch_and_block_all() {
        fail(format!("installing signal handlers: {e}"));
    }
    // SAFETY: the exec helper is single-threaded.
    match unsafe { fork() } {
        Ok(ForkResult::Child) => {
            // Die with the helper, whatever kills it. (Its PID is not visible from
            // the Machine's PID namespace, so getppid() cannot confirm it.)
            if set_pdeathsig(Signal::SIGKILL).is_err() {
                std::process::exit(EXIT_SETUP_FAILED);
            }
            let message = workload::become_workload(&config.workload, true);
            eprintln!("{message}");
            std::process::exit(EXIT_EXEC_FAILED)
        }
        Ok(ForkResult::Parent { child }) => wait_command(child),
        Err(e) => fail(format!("starting the command: {e}")),
    }
}

/// Joins the Machine's cgroups, namespaces and root (the current directory becomes `/`).
pub(super) fn enter_machine(config: &ExecConfig) -> Result<(), String> {
    let me = getpid().to_string();
    for procs in &config.cgroup_procs {
        std::fs::write(procs, &me)
            .map_err(|e| format!("joining cgroup {}: {e}", procs.display()))?;
    }
    let target = config.guest_init_pid;
    let open_fd = |path: String, flags: OFlag| -> Result<OwnedFd, String> {
        open(path.as_str(), flags | OFlag::O_CLOEXEC, Mode::empty())
            .map_err(|e| format!("opening {path} (is the machine still running?): {e}"))
    };
    let namespaces = NAMESPACES
        .iter()
        .map(|ns| {
            Ok((
                *ns,
                open_fd(format!("/proc/{target}/ns/{ns}"), OFlag::O_RDONLY)?,
            ))
        })
        .collect::<Result<Vec<(&str, OwnedFd)>, String>>()?;
    let root = open_fd(
        format!("/proc/{target}/root"),
        OFlag::O_PATH | OFlag::O_DIRECTORY,
    )?;
    for (name, fd) in &namespaces {
        setns(fd, CloneFlags::empty())
            .map_err(|e| format!("joining the machine's {name} namespace: {e}"))?;
    }
    fchdir(&root)
        .and_then(|_| chroot("."))
        .map_err(|e| format!("entering the machine's root: {e}"))?;
    let _ = std::env::set_current_dir("/");
    Ok(())
}

/// Waits for `command`, forwarding signals to it (SIGTERM kills its whole
/// process group), and exits the way it ended (`128 + n` for signal `n`).
pub(super) fn wait_command(command: Pid) -> ! {
    loop {
        match signals::next_signal() {
            Signal::SIGCHLD => match waitpid(command, Some(nix::sys::wait::WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(_, code)) => std::process::exit(code),
                Ok(WaitStatus::Signaled(_, signal, _)) => std::process::exit(128 + signal as i32),
                _ => continue,
            },
            Signal::SIGTERM => {
                let _ = killpg(command, Signal::SIGKILL);
                let _ = kill(command, Signal::SIGKILL);
            }
            signal if signals::should_forward(signal) => {
                let _ = kill(command, signal);
            }
            _ => {}
        }
    }
}
