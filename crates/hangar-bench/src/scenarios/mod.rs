//! The measured scenarios on Hangar, and the result shapes the peers
//! (docker, runc) fill in the same way; the edge proxy scenarios.

pub mod cold_start;
pub mod create_start;
pub mod cycles;
pub mod density;
pub mod images;
pub mod proxy;

use crate::stats::Samples;

/// Consecutive failures after which a loop stops instead of hammering a
/// broken host.
pub const MAX_CONSECUTIVE_FAILURES: usize = 3;

/// Latencies of creating and starting N instances one after another.
#[derive(Debug, Default)]
pub struct CreateStart {
    /// From the create request to the runtime reporting the instance started.
    pub to_started: Samples,
    /// From the create request to its HTTP port answering (empty when the
    /// system gives the instance no reachable address).
    pub to_http: Samples,
    /// Instances that could not be created, with the error.
    pub failures: Vec<String>,
}

/// Latencies of starting a stopped instance and resuming a suspended
/// (frozen) one, over repeated cycles.
#[derive(Debug, Default)]
pub struct Cycles {
    /// Start request until the runtime reports started.
    pub start: Samples,
    /// Start request until the HTTP port answers.
    pub start_http: Samples,
    /// Resume request until the runtime reports started/running.
    pub resume: Samples,
    /// Resume request until the HTTP port answers.
    pub resume_http: Samples,
    /// Cycles that failed, with the error.
    pub failures: Vec<String>,
}
