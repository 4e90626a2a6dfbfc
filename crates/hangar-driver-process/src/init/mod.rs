//! `hangar-machine-init`: the small init that runs inside every isolated Machine.
//!
//! The driver starts it in fresh (mount, uts, ipc, net, pid) namespaces, so
//! the process tree of a Machine is:
//!
//! ```text
//! monitor (host PID namespace; the task handle's pid)
//!   └─ guest init (PID 1 of the Machine): builds the root, then supervises
//!        └─ workload (the Machine's main process)
//! ```
//!
//! Both inits forward signals down and reap children; the guest init reports
//! how the workload ended, and the monitor ends the same way, so the driver
//! sees the workload's exit code or fatal signal. `exec` joins a running
//! Machine's namespaces, root and cgroups and runs one command; `console`
//! does the same on a pseudo-terminal allocated inside the Machine.
//!
//! The init must be entered before any thread is started: joining a mount
//! namespace is only allowed to single-threaded processes.

mod capabilities;
mod console;
mod join;
mod loopback;
mod monitor;
mod rootfs;
mod signals;
mod user;
mod workload;

use std::ffi::OsString;
use std::io::Write;
use std::os::fd::{FromRawFd, OwnedFd};

use crate::protocol;

/// Entry point of `hangar-machine-init` (and of `hangar`'s hidden init
/// subcommand): `args` are the arguments after the program or subcommand name.
/// Call it before starting any threads. It never returns.
pub fn machine_init_main(args: Vec<OsString>) -> ! {
    let arg = |i: usize| args.get(i).and_then(|a| a.to_str()).unwrap_or("");
    match arg(0) {
        protocol::PROBE => std::process::exit(0),
        protocol::RUN => monitor::run(arg(1)),
        protocol::EXEC => join::exec(arg(1)),
        protocol::CONSOLE => console::console(arg(1)),
        other => {
            eprintln!(
                "hangar-machine-init: unknown subcommand {other:?}; this program is started by the hangar process driver, not by hand"
            );
            std::process::exit(2)
        }
    }
}

/// The report pipe from the driver, if this process was given one.
fn take_report_fd() -> Option<OwnedFd> {
    // SAFETY: F_GETFD only queries the descriptor table; an unused number yields EBADF.
    let open = unsafe { libc::fcntl(protocol::REPORT_FD, libc::F_GETFD) } >= 0;
    // SAFETY: fd 3 is open (checked above), and nothing else in this process owns it:
    // the driver placed it there before exec and this is called once, at startup.
    open.then(|| unsafe { OwnedFd::from_raw_fd(protocol::REPORT_FD) })
}

/// Tells the driver (and the Machine's stderr) why the Machine could not start.
fn report_failure(report: Option<&OwnedFd>, message: &str) {
    eprintln!("hangar-machine-init: {message}");
    if let Some(Ok(fd)) = report.map(OwnedFd::try_clone) {
        let _ = std::fs::File::from(fd).write_all(message.as_bytes());
    }
}
