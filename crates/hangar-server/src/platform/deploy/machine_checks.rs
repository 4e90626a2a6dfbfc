//! Machine checks (reference §7.4): after a rolling update of a Machine, or
//! against the canary, each `machine_checks` entry of its group runs in a
//! test Machine pointed at it (`FLY_TEST_MACHINE_IP`). A non-zero exit fails
//! the deploy with the test's output in the events; the test Machine is a
//! one-off Machine of the deploy, always destroyed.

use hangar_config::machine::OriginMachine;
use hangar_types::{ids, EventLevel};

use super::controller::Run;
use super::one_off::{OneOff, OneOffError, Role};
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
            let machine = match config.to_test_machine_config(check, Some(&origin)) {
                Ok(m) => m,
                Err(e) => return Ok(Err(format!("machine check {command:?}: {e}"))),
            };
            let test_id = ids::new_machine_id();
            self.event(
                EventLevel::Info,
                "machine_check",
                format!("testing machine {id} with {command:?} in machine {test_id}"),
                Some(id),
            )
            .await?;
            let outcome = self
                .run_one_off(OneOff {
                    id: test_id,
                    role: Role::MachineCheck,
                    name: format!("test-{id}"),
                    region: tested.region.clone(),
                    config: machine,
                    timeout: self.record.spec.wait_timeout(),
                    timeout_hint: "raise --wait-timeout / [deploy] wait_timeout",
                    log_lines: LOG_LINES,
                })
                .await?;
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
                Err(OneOffError::Start(e)) => {
                    return Ok(Err(format!(
                        "machine check {command:?} could not start its test machine: {e}"
                    )))
                }
                Err(OneOffError::Run(e)) => {
                    return Ok(Err(format!(
                        "machine check {command:?} against machine {id} failed: {e}"
                    )))
                }
            }
        }
        Ok(Ok(()))
    }
}
