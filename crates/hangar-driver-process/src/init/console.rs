//! `console <config>`: run one command inside a running Machine on a pseudo-terminal.
//!
//! The helper joins the Machine like `exec` does, then allocates the
//! terminal from the Machine's own `/dev/ptmx` (so the command sees a
//! `/dev/pts/N` that exists inside the Machine), forks the command as the
//! leader of a new session with the terminal as its controlling terminal
//! and standard streams, hands the terminal's master side to the driver over
//! the socket on fd 3, and waits for the command like `exec` does.

use std::io::IoSlice;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use nix::fcntl::{open, OFlag};
use nix::pty::{grantpt, posix_openpt, ptsname_r, unlockpt, PtyMaster};
use nix::sys::prctl::set_pdeathsig;
use nix::sys::signal::Signal;
use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags, UnixAddr};
use nix::sys::stat::Mode;
use nix::unistd::{fork, setsid, ForkResult};

use super::join::{enter_machine, wait_command};
use super::{signals, workload};
use crate::protocol::{ConsoleConfig, CONSOLE_FD, EXIT_EXEC_FAILED, EXIT_SETUP_FAILED};

fn fail(message: String) -> ! {
    eprintln!("hangar-machine-init console: {message}");
    std::process::exit(EXIT_SETUP_FAILED)
}

/// The socket to the driver (fd 3).
fn take_driver_socket() -> OwnedFd {
    // SAFETY: F_GETFD only queries the descriptor table.
    if unsafe { libc::fcntl(CONSOLE_FD, libc::F_GETFD) } < 0 {
        fail(
            "no socket to the driver on fd 3; this program is started by the hangar process driver"
                .into(),
        );
    }
    // SAFETY: fd 3 is open (checked above) and owned by nothing else in this process.
    unsafe { OwnedFd::from_raw_fd(CONSOLE_FD) }
}

/// A new pseudo-terminal from the (Machine's) `/dev/ptmx`, with its size set,
/// and the path of its terminal side.
fn allocate_terminal(cols: u16, rows: u16) -> Result<(PtyMaster, String), String> {
    let master = posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)
        .map_err(|e| format!("opening /dev/ptmx inside the machine: {e}"))?;
    grantpt(&master).map_err(|e| format!("grantpt: {e}"))?;
    unlockpt(&master).map_err(|e| format!("unlockpt: {e}"))?;
    let path = ptsname_r(&master).map_err(|e| format!("ptsname: {e}"))?;
    let size = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads one winsize from the pointer, which is valid.
    if unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &size) } < 0 {
        return Err(format!(
            "setting the terminal size: {}",
            std::io::Error::last_os_error()
        ));
    }
    Ok((master, path))
}

/// In the forked child: a new session whose controlling terminal is `path`,
/// which also becomes stdin, stdout and stderr.
fn attach_terminal(path: &str) -> Result<(), String> {
    setsid().map_err(|e| format!("setsid: {e}"))?;
    let terminal = open(path, OFlag::O_RDWR, Mode::empty())
        .map_err(|e| format!("opening the terminal {path}: {e}"))?;
    // SAFETY: TIOCSCTTY takes an integer argument; the descriptor is open.
    if unsafe { libc::ioctl(terminal.as_raw_fd(), libc::TIOCSCTTY, 0) } < 0 {
        return Err(format!(
            "making {path} the controlling terminal: {}",
            std::io::Error::last_os_error()
        ));
    }
    for target in 0..=2 {
        // SAFETY: dup2 onto the standard descriptors, which nothing else owns here.
        if unsafe { libc::dup2(terminal.as_raw_fd(), target) } < 0 {
            return Err(format!("dup2: {}", std::io::Error::last_os_error()));
        }
    }
    Ok(())
}

fn send_fd(socket: BorrowedFd<'_>, fd: BorrowedFd<'_>) -> nix::Result<usize> {
    let fds = [fd.as_raw_fd()];
    sendmsg::<UnixAddr>(
        socket.as_raw_fd(),
        &[IoSlice::new(b"t")],
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )
}

pub(super) fn console(config_json: &str) -> ! {
    let config: ConsoleConfig = serde_json::from_str(config_json)
        .unwrap_or_else(|e| fail(format!("bad console config: {e}")));
    let socket = take_driver_socket();
    if let Err(message) = enter_machine(&config.join) {
        fail(message);
    }
    let (master, path) = allocate_terminal(config.cols, config.rows).unwrap_or_else(|m| fail(m));
    if let Err(e) = signals::catch_and_block_all() {
        fail(format!("installing signal handlers: {e}"));
    }
    // SAFETY: the console helper is single-threaded.
    match unsafe { fork() } {
        Ok(ForkResult::Child) => {
            if set_pdeathsig(Signal::SIGKILL).is_err() {
                std::process::exit(EXIT_SETUP_FAILED);
            }
            drop(socket);
            drop(master);
            if let Err(message) = attach_terminal(&path) {
                eprintln!("hangar-machine-init console: {message}");
                std::process::exit(EXIT_SETUP_FAILED);
            }
            let message = workload::become_workload(&config.join.workload, false);
            eprintln!("{message}");
            std::process::exit(EXIT_EXEC_FAILED)
        }
        Ok(ForkResult::Parent { child }) => {
            if let Err(e) = send_fd(socket.as_fd(), master.as_fd()) {
                let _ = nix::sys::signal::kill(child, Signal::SIGKILL);
                fail(format!("handing the terminal to the driver: {e}"));
            }
            drop(master);
            drop(socket);
            wait_command(child)
        }
        Err(e) => fail(format!("starting the command: {e}")),
    }
}
