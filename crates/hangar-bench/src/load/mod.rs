//! Load generators: `wrk` for saturation (closed loop) and a fixed-rate
//! open-loop generator for partial load (Debian has no `wrk2`).

pub mod open_loop;
pub mod wrk;

use std::time::Duration;

/// What one load run measured.
#[derive(Debug, Clone, Copy, Default)]
pub struct LoadResult {
    /// Answered requests per second over the run.
    pub requests_per_sec: f64,
    /// Requests answered.
    pub requests: u64,
    /// Median latency.
    pub p50: Duration,
    /// 99th percentile latency.
    pub p99: Duration,
    /// Failed requests: socket errors, timeouts, non-2xx/3xx answers.
    pub errors: u64,
}
