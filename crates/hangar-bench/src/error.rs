//! What can go wrong in a benchmark run.

use std::time::Duration;

/// A failed step of a benchmark run.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("the benchmark must run as root (namespaces, cgroups, bridge networking); run it with sudo or as root")]
    NotRoot,
    #[error("{0} not found; install Debian's busybox-static (apt-get install busybox-static)")]
    MissingBusybox(&'static str),
    #[error("the Machine init {0} does not exist; build it first with `cargo build --release -p hangar`")]
    MissingInit(String),
    #[error("cannot run `{command}`: {source}; is it installed and on PATH?")]
    Spawn {
        command: String,
        #[source]
        source: std::io::Error,
    },
    #[error("`{command}` failed ({status}): {stderr}")]
    CommandFailed {
        command: String,
        status: String,
        stderr: String,
    },
    #[error("`{command}` did not finish within {timeout:?}; the host may be overloaded")]
    CommandTimeout { command: String, timeout: Duration },
    #[error("{what} did not happen within {timeout:?}; last observation: {last}")]
    WaitTimeout {
        what: String,
        timeout: Duration,
        last: String,
    },
    #[error("Machines API call {call} failed: {source}")]
    Api {
        call: String,
        #[source]
        source: hangar_client::ClientError,
    },
    #[error("machine {id}: create answered `{answered}` and it never became started ({wait}); now {now}")]
    NotStarted {
        id: String,
        answered: String,
        wait: String,
        now: String,
    },
    #[error("cannot boot the platform: {0:#}")]
    Boot(anyhow::Error),
    #[error("{step} failed: {detail}")]
    Step { step: String, detail: String },
    #[error("file system error at {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

impl BenchError {
    /// Wraps any error with the step that produced it.
    pub fn step<E: std::fmt::Display>(step: impl Into<String>) -> impl FnOnce(E) -> BenchError {
        let step = step.into();
        move |e| BenchError::Step {
            step,
            detail: format!("{e:#}"),
        }
    }

    /// Wraps a client error with the call that produced it.
    pub fn api(call: impl Into<String>) -> impl FnOnce(hangar_client::ClientError) -> BenchError {
        let call = call.into();
        move |source| BenchError::Api { call, source }
    }
}
