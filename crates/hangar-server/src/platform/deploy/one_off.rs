//! One-off Machines of a deploy (the release command, machine checks): run
//! to their exit, their output turned into deploy events, then destroyed by
//! the caller.

use std::time::{Duration, Instant};

use hangar_types::{EventLevel, MachineState};

use super::controller::Run;
use crate::http::error::HttpResult;
use crate::platform::ControlPlane;

/// How often a wait looks at the Machine again.
const POLL: Duration = Duration::from_millis(250);

impl ControlPlane {
    /// Waits for a one-off Machine to exit; its exit code (128 + signal when
    /// killed). `hint` says what to do when it runs past `timeout`.
    pub(super) async fn wait_exit(
        &self,
        id: &str,
        timeout: Duration,
        hint: &str,
    ) -> Result<i32, String> {
        let deadline = Instant::now() + timeout;
        loop {
            let record = self.agent.record(id).await.map_err(|e| e.to_string())?;
            let exited = matches!(
                record.state,
                MachineState::Stopped | MachineState::Destroyed | MachineState::Failed
            );
            if exited {
                return match record.last_exit {
                    Some(exit) => Ok(exit.exit_code.unwrap_or(128 + exit.signal.unwrap_or(0))),
                    None => Err(format!(
                        "the machine ended {} without running",
                        record.state
                    )),
                };
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "it did not finish within {}; {hint}",
                    humantime::format_duration(timeout)
                ));
            }
            tokio::time::sleep(POLL).await;
        }
    }
}

impl Run {
    /// The last `lines` of a one-off Machine's output as events of `phase`
    /// (stderr as warnings).
    pub(super) async fn output_events(
        &mut self,
        id: &str,
        phase: &str,
        lines: usize,
    ) -> HttpResult<()> {
        let Ok((lines, _)) = self.cp.agent.logs(id, lines).await else {
            return Ok(());
        };
        for line in lines {
            let level = if line.stream == "stderr" {
                EventLevel::Warn
            } else {
                EventLevel::Info
            };
            self.event(level, phase, line.message, Some(id)).await?;
        }
        Ok(())
    }
}
