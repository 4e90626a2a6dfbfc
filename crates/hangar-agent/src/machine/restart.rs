//! Restart policy: whether and when a Machine whose main process exited on
//! its own is started again.

use std::time::Duration;

use hangar_driver::ExitInfo;
use hangar_types::{MachineConfig, RestartPolicy};

/// The window in which `on-failure` retries are counted.
pub const RETRY_WINDOW_MS: i64 = 5 * 60 * 1000;
/// `on-failure` retries allowed in the window when `max_retries` is unset.
pub const DEFAULT_MAX_RETRIES: i64 = 10;

/// Whether an exit counts as a failure.
pub fn is_failure(exit: &ExitInfo) -> bool {
    exit.oom_killed || exit.signal.is_some() || exit.exit_code != Some(0)
}

/// The policy in force: `on-failure` when unset.
pub fn policy(config: &MachineConfig) -> RestartPolicy {
    config
        .restart
        .as_ref()
        .and_then(|r| r.policy)
        .unwrap_or(RestartPolicy::OnFailure)
}

/// Decides whether to restart after an unrequested exit, given the times
/// (unix ms) of earlier restarts.
pub fn should_restart(
    config: &MachineConfig,
    exit: &ExitInfo,
    recent_restarts: &[i64],
    now_ms: i64,
) -> bool {
    match policy(config) {
        RestartPolicy::No => false,
        RestartPolicy::Always => true,
        RestartPolicy::OnFailure => {
            let max = config
                .restart
                .as_ref()
                .and_then(|r| r.max_retries)
                .unwrap_or(DEFAULT_MAX_RETRIES);
            let in_window = recent_restarts
                .iter()
                .filter(|t| now_ms - **t < RETRY_WINDOW_MS)
                .count() as i64;
            is_failure(exit) && in_window < max
        }
    }
}

/// Backoff before the n-th consecutive restart: 100 ms doubling, at most 10 s.
pub fn backoff(consecutive: usize) -> Duration {
    let ms = 100u64.saturating_mul(1u64 << consecutive.min(10));
    Duration::from_millis(ms.min(10_000))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hangar_types::MachineRestart;

    fn cfg(policy: RestartPolicy, max: Option<i64>) -> MachineConfig {
        MachineConfig {
            restart: Some(MachineRestart {
                policy: Some(policy),
                max_retries: max,
            }),
            ..Default::default()
        }
    }

    #[test]
    fn policies() {
        let ok = ExitInfo {
            exit_code: Some(0),
            ..Default::default()
        };
        let bad = ExitInfo {
            exit_code: Some(3),
            ..Default::default()
        };
        assert!(!should_restart(&cfg(RestartPolicy::No, None), &bad, &[], 0));
        assert!(should_restart(
            &cfg(RestartPolicy::Always, None),
            &ok,
            &[],
            0
        ));
        assert!(!should_restart(
            &cfg(RestartPolicy::OnFailure, None),
            &ok,
            &[],
            0
        ));
        assert!(should_restart(
            &cfg(RestartPolicy::OnFailure, Some(2)),
            &bad,
            &[1],
            2
        ));
        assert!(!should_restart(
            &cfg(RestartPolicy::OnFailure, Some(2)),
            &bad,
            &[1, 2],
            3
        ));
        // Restarts older than the window no longer count.
        assert!(should_restart(
            &cfg(RestartPolicy::OnFailure, Some(2)),
            &bad,
            &[1, 2],
            RETRY_WINDOW_MS + 10
        ));
        // Unset policy means on-failure.
        assert!(should_restart(&MachineConfig::default(), &bad, &[], 0));
        assert_eq!(backoff(0), Duration::from_millis(100));
        assert_eq!(backoff(20), Duration::from_secs(10));
    }
}
