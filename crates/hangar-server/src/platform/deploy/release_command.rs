//! The release command (reference §5.6): run once per deploy, before any
//! app Machine changes, in a temporary Machine of the new image; its output
//! becomes deploy events, and a non-zero exit aborts the deploy.

use std::time::{Duration, Instant};

use hangar_agent::NewMachine;
use hangar_config::machine::stamp_release;
use hangar_types::{ids, EventLevel, MachineState};

use super::controller::Run;
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
        // Kept after exit so its logs can be read; destroyed below.
        machine.auto_destroy = Some(false);
        stamp_release(
            &mut machine,
            &self.record.release_id,
            self.record.deployment.release_version,
        );
        let id = match &self.record.release_machine_id {
            Some(id) => id.clone(),
            None => {
                let id = ids::new_machine_id();
                self.record.release_machine_id = Some(id.clone());
                self.save().await?;
                id
            }
        };
        let app = self.app();
        if self.cp.agent.record(&id).await.is_err() {
            self.event(
                EventLevel::Info,
                "release_command",
                format!("running release command {command:?}"),
                Some(&id),
            )
            .await?;
            let created = self
                .cp
                .agent
                .create(NewMachine {
                    id: id.clone(),
                    app: app.clone(),
                    name: format!("release-{}", self.record.deployment.release_version),
                    region: config
                        .primary_region
                        .clone()
                        .filter(|r| self.cp.regions().contains(r))
                        .unwrap_or_else(|| self.cp.agent.region().to_string()),
                    config: machine,
                    skip_launch: false,
                    cordoned: true,
                })
                .await;
            if let Err(e) = created {
                return Ok(Err(format!(
                    "the release command machine could not start: {e}"
                )));
            }
        }
        let timeout = Duration::from_millis(self.record.spec.release_command_timeout_ms);
        let outcome = self.wait_exit(&id, timeout).await;
        if let Ok((lines, _)) = self.cp.agent.logs(&id, LOG_LINES).await {
            for line in lines {
                let level = if line.stream == "stderr" {
                    EventLevel::Warn
                } else {
                    EventLevel::Info
                };
                self.event(level, "release_command", line.message, Some(&id))
                    .await?;
            }
        }
        let _ = self.cp.destroy_and_wait(&id).await;
        Ok(match outcome {
            Ok(0) => {
                self.info("release_command", "release command succeeded")
                    .await?;
                Ok(())
            }
            Ok(code) => Err(format!(
                "release command failed with exit code {code} - aborting deployment; nothing was changed (its output is in the events above)"
            )),
            Err(e) => Err(format!("release command failed: {e} - aborting deployment")),
        })
    }

    /// Waits for the release Machine to exit; its exit code.
    async fn wait_exit(&self, id: &str, timeout: Duration) -> Result<i32, String> {
        let deadline = Instant::now() + timeout;
        loop {
            let record = self.cp.agent.record(id).await.map_err(|e| e.to_string())?;
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
                    "it did not finish within {}; raise [deploy] release_command_timeout",
                    humantime::format_duration(timeout)
                ));
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}
