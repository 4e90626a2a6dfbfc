//! Signal plumbing of the init processes: catch everything, forward it, reap children.
//!
//! A PID-namespace init only receives signals for which it has a handler
//! installed, so every catchable signal gets a no-op handler and is blocked;
//! the init then takes them synchronously with `sigwait`.

use nix::sys::signal::{
    sigaction, sigprocmask, SaFlags, SigAction, SigHandler, SigSet, SigmaskHow, Signal,
};

extern "C" fn ignore_signal(_: libc::c_int) {}

/// Signals the init must never touch.
fn uncatchable(signal: Signal) -> bool {
    matches!(signal, Signal::SIGKILL | Signal::SIGSTOP)
}

/// Installs no-op handlers for every catchable signal and blocks them all.
pub(super) fn catch_and_block_all() -> nix::Result<()> {
    let action = SigAction::new(
        SigHandler::Handler(ignore_signal),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    for signal in Signal::iterator().filter(|s| !uncatchable(*s)) {
        // SAFETY: the handler does nothing, so it is async-signal-safe.
        unsafe { sigaction(signal, &action) }?;
    }
    sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::all()), None)
}

/// Restores default dispositions and an empty mask; for a child about to exec.
pub(super) fn restore_defaults() -> nix::Result<()> {
    let action = SigAction::new(SigHandler::SigDfl, SaFlags::empty(), SigSet::empty());
    for signal in Signal::iterator().filter(|s| !uncatchable(*s)) {
        // SAFETY: restoring the default disposition has no handler to be unsafe.
        unsafe { sigaction(signal, &action) }?;
    }
    sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None)
}

/// Waits for the next signal (they are all blocked, so none is lost).
pub(super) fn next_signal() -> Signal {
    loop {
        if let Ok(signal) = SigSet::all().wait() {
            return signal;
        }
    }
}

/// Whether a signal received by an init is passed on to its child.
pub(super) fn should_forward(signal: Signal) -> bool {
    !matches!(
        signal,
        Signal::SIGCHLD | Signal::SIGPIPE | Signal::SIGKILL | Signal::SIGSTOP
    )
}
