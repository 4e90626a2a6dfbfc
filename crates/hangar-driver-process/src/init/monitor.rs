//! The monitor (host side) and the guest init (PID 1 inside the Machine).

use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use nix::fcntl::{fcntl, FcntlArg, FdFlag, OFlag};
use nix::sys::signal::{
    kill, raise, sigaction, sigprocmask, SaFlags, SigAction, SigHandler, SigSet, SigmaskHow, Signal,
};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{fork, pipe2, ForkResult, Pid};

use super::{loopback, report_failure, rootfs, signals, take_report_fd, workload};
use crate::protocol::{GuestConfig, CGROUPS_READY, EXIT_EXEC_FAILED, EXIT_SETUP_FAILED, GO};

fn die(report: Option<&OwnedFd>, message: &str) -> ! {
    report_failure(report, message);
    std::process::exit(EXIT_SETUP_FAILED)
}

/// `run <config>`: the monitor's main function.
pub(super) fn run(config_path: &str) -> ! {
    let report = take_report_fd();
    let config: GuestConfig = match std::fs::read(config_path)
        .map_err(|e| e.to_string())
        .and_then(|bytes| serde_json::from_slice(&bytes).map_err(|e| e.to_string()))
    {
        Ok(config) => config,
        Err(e) => die(
            report.as_ref(),
            &format!("reading machine config {config_path}: {e}"),
        ),
    };

    // Everything forked from here on must start inside the Machine's cgroups.
    if read_one_byte() != Some(CGROUPS_READY) {
        die(
            report.as_ref(),
            "the driver abandoned the start before the machine was set up",
        );
    }
    if let Err(e) = signals::catch_and_block_all() {
        die(report.as_ref(), &format!("installing signal handlers: {e}"));
    }
    let (status_read, status_write) = match pipe2(OFlag::O_CLOEXEC) {
        Ok(pair) => pair,
        Err(e) => die(report.as_ref(), &format!("creating the status pipe: {e}")),
    };
    // SAFETY: the monitor is single-threaded, so the child may run arbitrary code.
    match unsafe { fork() } {
        Ok(ForkResult::Child) => {
            drop(status_read);
            guest_init(&config, report, status_write)
        }
        Ok(ForkResult::Parent { child }) => {
            drop(status_write);
            drop(report);
            // The guest init reads the rest of stdin; the end-of-file it
            // waits for depends only on the driver's write end.
            let _ = redirect_stdin_to_null();
            monitor(child, status_read)
        }
        Err(e) => die(
            report.as_ref(),
            &format!("starting the machine's init: {e}"),
        ),
    }
}

/// Reads one byte straight from stdin (no buffering: the guest init reads the
/// rest); `None` at end-of-file or on an error.
fn read_one_byte() -> Option<u8> {
    let mut byte = [0u8];
    loop {
        match nix::unistd::read(std::io::stdin().as_fd(), &mut byte) {
            Ok(1) => return Some(byte[0]),
            Err(nix::errno::Errno::EINTR) => continue,
            _ => return None,
        }
    }
}

fn redirect_stdin_to_null() -> nix::Result<()> {
    let null = nix::fcntl::open("/dev/null", OFlag::O_RDONLY, nix::sys::stat::Mode::empty())?;
    if null.as_raw_fd() != 0 {
        nix::unistd::dup2_stdin(&null)?;
    }
    Ok(())
}

/// Forwards signals to the guest init and ends the way the workload ended.
fn monitor(guest_init: Pid, status_read: OwnedFd) -> ! {
    loop {
        let signal = signals::next_signal();
        if signal != Signal::SIGCHLD {
            if signals::should_forward(signal) {
                let _ = kill(guest_init, signal);
            }
            continue;
        }
        match waitpid(guest_init, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(_, code)) => {
                let mut status = String::new();
                let _ = std::fs::File::from(status_read).read_to_string(&mut status);
                match status
                    .strip_prefix("signal ")
                    .and_then(|n| n.trim().parse::<i32>().ok())
                {
                    Some(number) => die_by_signal(number),
                    None => std::process::exit(code),
                }
            }
            Ok(WaitStatus::Signaled(_, signal, _)) => die_by_signal(signal as i32),
            _ => continue,
        }
    }
}

/// Ends this process by `number`, so that its parent sees the same fatal signal.
fn die_by_signal(number: i32) -> ! {
    if let Ok(signal) = Signal::try_from(number) {
        let action = SigAction::new(SigHandler::SigDfl, SaFlags::empty(), SigSet::empty());
        // SAFETY: restoring the default disposition installs no handler.
        let _ = unsafe { sigaction(signal, &action) };
        let mut only = SigSet::empty();
        only.add(signal);
        let _ = sigprocmask(SigmaskHow::SIG_UNBLOCK, Some(&only), None);
        let _ = raise(signal);
    }
    std::process::exit(128 + number)
}

/// PID 1 of the Machine: builds the root, starts the workload, supervises it.
fn guest_init(config: &GuestConfig, report: Option<OwnedFd>, status_write: OwnedFd) -> ! {
    // If the monitor is killed, the whole Machine goes with it.
    if nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).is_err() {
        die(report.as_ref(), "arming the parent-death signal failed");
    }
    // The root is built while the driver wires the network, in parallel.
    if let Err(e) = rootfs::build_root(config) {
        die(report.as_ref(), &format!("setting up the machine: {e}"));
    }
    if let Err(e) = loopback::bring_up() {
        die(report.as_ref(), &format!("setting up the machine: {e}"));
    }
    let mut go = Vec::new();
    if std::io::stdin().read_to_end(&mut go).is_err() || go != GO {
        die(
            report.as_ref(),
            "the driver abandoned the start before the machine was set up",
        );
    }
    if let Err(e) = redirect_stdin_to_null() {
        die(report.as_ref(), &format!("redirecting stdin: {e}"));
    }
    if let Some(fd) = &report {
        // The workload's copy closes when it execs: that end-of-file means "started".
        let _ = fcntl(fd.as_fd(), FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC));
    }
    // SAFETY: the guest init is single-threaded.
    match unsafe { fork() } {
        Ok(ForkResult::Child) => {
            drop(status_write);
            let message = workload::become_workload(&config.workload, true);
            report_failure(report.as_ref(), &message);
            std::process::exit(EXIT_EXEC_FAILED)
        }
        Ok(ForkResult::Parent { child }) => {
            drop(report);
            supervise(child, status_write)
        }
        Err(e) => die(report.as_ref(), &format!("starting the workload: {e}")),
    }
}

/// Forwards signals to the workload, reaps every orphan, and exits with the workload.
fn supervise(workload: Pid, status_write: OwnedFd) -> ! {
    loop {
        let signal = signals::next_signal();
        if signal != Signal::SIGCHLD {
            if signals::should_forward(signal) {
                let _ = kill(workload, signal);
            }
            continue;
        }
        loop {
            match waitpid(None::<Pid>, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(pid, code)) if pid == workload => std::process::exit(code),
                Ok(WaitStatus::Signaled(pid, signal, _)) if pid == workload => {
                    let number = signal as i32;
                    let mut file = std::fs::File::from(status_write);
                    let _ =
                        std::io::Write::write_all(&mut file, format!("signal {number}").as_bytes());
                    std::process::exit(128 + number)
                }
                Ok(WaitStatus::StillAlive) | Err(_) => break,
                Ok(_) => continue,
            }
        }
    }
}
