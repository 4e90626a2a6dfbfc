//! Scheduled Machines (`config.schedule`): runs at a fixed interval counted
//! from the Machine's creation.

use std::time::Duration;

/// The interval of a schedule name, `None` for an unknown one.
pub fn interval(schedule: &str) -> Option<Duration> {
    let hours = match schedule {
        "hourly" => 1,
        "daily" => 24,
        "weekly" => 24 * 7,
        "monthly" => 24 * 30,
        _ => return None,
    };
    Some(Duration::from_secs(hours * 3600))
}

/// Milliseconds from `now_ms` until the next run of a schedule whose
/// Machine was created at `created_ms`.
pub fn until_next_run(every: Duration, created_ms: i64, now_ms: i64) -> Duration {
    let every_ms = every.as_millis().max(1) as i64;
    let elapsed = (now_ms - created_ms).max(0);
    let next = created_ms + (elapsed / every_ms + 1) * every_ms;
    Duration::from_millis((next - now_ms) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_run_counts_from_creation() {
        let hour = interval("hourly").unwrap();
        assert_eq!(until_next_run(hour, 0, 0), hour);
        assert_eq!(
            until_next_run(hour, 0, 3_600_000 + 1_000),
            Duration::from_millis(3_599_000)
        );
        assert!(interval("fortnightly").is_none());
    }
}
