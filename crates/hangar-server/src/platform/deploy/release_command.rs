//! The release command (reference §5.6): run once per deploy, before any
//! app Machine changes, in a temporary Machine of the new image; its output
//! becomes deploy events, and a non-zero exit aborts the deploy.

use std::time::Duration;

use hangar_agent::NewMachine;
use hangar_config::machine::stamp_release;
use hangar_types::{ids, EventLevel};

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
                    min_secrets_version: None,
                })
                .await;
            if let Err(e) = created {
                return Ok(Err(format!(
                    "the release command machine could not start: {e}"
                )));
            }
        }
        let timeout = Duration::from_millis(self.record.spec.release_command_timeout_ms);
        let outcome = self
            .cp
            .wait_exit(&id, timeout, "raise [deploy] release_command_timeout")
            .await;
        self.output_events(&id, "release_command", LOG_LINES)
            .await?;
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
}
