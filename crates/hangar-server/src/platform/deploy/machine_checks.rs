//! Machine checks (reference §7.4): after a rolling update of a Machine, or
//! against the canary, each `machine_checks` entry of its group runs in a
//! test Machine pointed at it (`FLY_TEST_MACHINE_IP`). A non-zero exit fails
//! the deploy with the test's output in the events; the test Machine is
//! always destroyed.

use hangar_agent::NewMachine;
use hangar_config::machine::OriginMachine;
use hangar_types::{ids, EventLevel};

use super::controller::Run;
use crate::http::error::HttpResult;

/// Lines of a test Machine's output shown as events.
const LOG_LINES: usize = 50;

impl Run {
    /// Runs the machine checks of `group` against Machine `id`, one after
    /// the other; `Ok(Err(why))` at the first that fails.
    pub(super) async fn machine_checks(
        &mut self,
        id: &str,
        group: &str,
    ) -> HttpResult<Result<(), String>> {
        let config = match self.config() {
            Ok(c) => c,
            Err(e) => return Ok(Err(e)),
        };
        let checks: Vec<_> = config
            .machine_checks_of(group)
            .into_iter()
            .cloned()
            .collect();
        if checks.is_empty() {
            return Ok(Ok(()));
        }
        let Some(tested) = self.cp.live_machine(id).await else {
            return Ok(Err(format!("machine {id} is gone")));
        };
        let origin = OriginMachine {
            private_ip: tested.to_machine().private_ip,
            config: tested.config.clone(),
        };
        for check in &checks {
            let command = check.command.join(" ");
            let mut machine = match config.to_test_machine_config(check, Some(&origin)) {
                Ok(m) => m,
                Err(e) => return Ok(Err(format!("machine check {command:?}: {e}"))),
            };
            // Kept after exit so its output can be read; destroyed below.
            machine.auto_destroy = Some(false);
            let test_id = ids::new_machine_id();
            self.event(
                EventLevel::Info,
                "machine_check",
                format!("testing machine {id} with {command:?} in machine {test_id}"),
                Some(id),
            )
            .await?;
            let created = self
                .cp
                .agent
                .create(NewMachine {
                    id: test_id.clone(),
                    app: self.app(),
                    name: format!("test-{id}"),
                    region: tested.region.clone(),
                    config: machine,
                    skip_launch: false,
                    cordoned: true,
                    min_secrets_version: None,
                })
                .await;
            if let Err(e) = created {
                return Ok(Err(format!(
                    "machine check {command:?} could not start its test machine: {e}"
                )));
            }
            let outcome = self
                .cp
                .wait_exit(
                    &test_id,
                    self.record.spec.wait_timeout(),
                    "raise --wait-timeout / [deploy] wait_timeout",
                )
                .await;
            self.output_events(&test_id, "machine_check", LOG_LINES)
                .await?;
            if let Err(e) = self.cp.destroy_and_wait(&test_id).await {
                tracing::warn!(machine = %test_id, error = %e, "cannot destroy a test machine");
            }
            match outcome {
                Ok(0) => {
                    self.event(EventLevel::Info, "machine_check", "passed", Some(id))
                        .await?
                }
                Ok(code) => {
                    return Ok(Err(format!(
                        "machine check {command:?} failed against machine {id} with exit code {code} (its output is in the events above)"
                    )))
                }
                Err(e) => {
                    return Ok(Err(format!(
                        "machine check {command:?} against machine {id} failed: {e}"
                    )))
                }
            }
        }
        Ok(Ok(()))
    }
}
