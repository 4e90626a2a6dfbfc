//! The release command (reference §5.6): run once per deploy, before any
//! app Machine changes, in a one-off Machine of the new image; its output
//! becomes deploy events, and a non-zero exit aborts the deploy. A control
//! plane restarted while it ran destroys the leftover Machine and runs the
//! command again in a new one.

use std::time::Duration;

use hangar_config::machine::stamp_release;
use hangar_types::{ids, EventLevel};

use super::controller::Run;
use super::one_off::{OneOff, OneOffError, Role};
use crate::http::error::HttpResult;

/// Lines of the command's output shown as events.
const LOG_LINES: usize = 100;

impl Run {
    /// `Ok(Err(why))` when the command failed (or could not run).
    pub(super) async fn release_command(&mut self) -> HttpResult<Result<(), String>> {
        let config = match self.config() {
            Ok(c) => c,
            Err(e) => return Ok(Err(e)),
        };
        let command = config.release_command().unwrap_or_default().to_string();
        let mut machine = match config.to_release_machine_config() {
            Ok(m) => m,
            Err(e) => return Ok(Err(format!("release command: {e}"))),
        };
        machine.image = self.record.spec.image.clone();
        stamp_release(
            &mut machine,
            &self.record.release_id,
            self.record.deployment.release_version,
        );
        let id = ids::new_machine_id();
        self.event(
            EventLevel::Info,
            "release_command",
            format!("running release command {command:?}"),
            Some(&id),
        )
        .await?;
        let region = config
            .primary_region
            .clone()
            .filter(|r| self.cp.regions().contains(r))
            .unwrap_or_else(|| self.cp.agent.region().to_string());
        let outcome = self
            .run_one_off(OneOff {
                id,
                role: Role::ReleaseCommand,
                name: format!("release-{}", self.record.deployment.release_version),
                region,
                config: machine,
                timeout: Duration::from_millis(self.record.spec.release_command_timeout_ms),
                timeout_hint: "raise [deploy] release_command_timeout",
                log_lines: LOG_LINES,
            })
            .await?;
        Ok(match outcome {
            Ok(0) => {
                self.info("release_command", "release command succeeded")
                    .await?;
                Ok(())
            }
            Ok(code) => Err(format!(
                "release command failed with exit code {code} - aborting deployment; nothing was changed (its output is in the events above)"
            )),
            Err(OneOffError::Start(e)) => Err(format!(
                "the release command machine could not start: {e}"
            )),
            Err(OneOffError::Run(e)) => {
                Err(format!("release command failed: {e} - aborting deployment"))
            }
        })
    }
}
