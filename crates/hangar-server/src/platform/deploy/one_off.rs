//! One-off Machines of a deploy (the release command, machine checks): each
//! is created marked with the deploy's id and its [`Role`] in its metadata,
//! run to its exit, its output turned into deploy events, and destroyed.
//! One that outlives its run (the control plane died while it ran, or its
//! destroy failed) is found by those marks and destroyed when the deploy
//! resumes and again when it ends.

use std::time::{Duration, Instant};

use hangar_agent::NewMachine;
use hangar_types::{EventLevel, MachineConfig, MachineState};

use super::controller::Run;
use crate::http::error::HttpResult;
use crate::platform::ControlPlane;

/// Metadata naming the deploy that runs a one-off Machine.
pub const METADATA_DEPLOY_ID: &str = "hangar_deploy_id";
/// Metadata naming what a one-off Machine does for its deploy ([`Role`]).
pub const METADATA_DEPLOY_ROLE: &str = "hangar_deploy_role";

/// How often a wait looks at the Machine again.
const POLL: Duration = Duration::from_millis(250);

/// What a one-off Machine does for its deploy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    ReleaseCommand,
    MachineCheck,
}

impl Role {
    /// Its [`METADATA_DEPLOY_ROLE`] value, also the phase of its events.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::ReleaseCommand => "release_command",
            Role::MachineCheck => "machine_check",
        }
    }

    fn parse(value: &str) -> Option<Role> {
        [Role::ReleaseCommand, Role::MachineCheck]
            .into_iter()
            .find(|role| role.as_str() == value)
    }

    /// What messages call its Machine.
    fn machine_name(self) -> &'static str {
        match self {
            Role::ReleaseCommand => "release command machine",
            Role::MachineCheck => "machine check test machine",
        }
    }
}

/// A one-off Machine to run.
pub(super) struct OneOff {
    pub id: String,
    pub role: Role,
    pub name: String,
    pub region: String,
    pub config: MachineConfig,
    /// How long it may run, and what to do when it runs past that.
    pub timeout: Duration,
    pub timeout_hint: &'static str,
    /// Lines of its output shown as events.
    pub log_lines: usize,
}

/// Why a one-off Machine gave no exit code.
pub(super) enum OneOffError {
    /// It could not be created or started.
    Start(String),
    /// It did not exit within its timeout, or ended without running.
    Run(String),
}

impl Run {
    /// Creates the Machine (cordoned, marked as this deploy's), waits for it
    /// to exit, turns its last output lines into events of its role's phase
    /// (stderr as warnings) and destroys it; its exit code (128 + signal
    /// when killed).
    pub(super) async fn run_one_off(
        &mut self,
        one_off: OneOff,
    ) -> HttpResult<Result<i32, OneOffError>> {
        let OneOff {
            id,
            role,
            name,
            region,
            mut config,
            timeout,
            timeout_hint,
            log_lines,
        } = one_off;
        // Kept after exit so its output can be read; destroyed below.
        config.auto_destroy = Some(false);
        config
            .metadata
            .insert(METADATA_DEPLOY_ID.into(), self.record.deployment.id.clone());
        config
            .metadata
            .insert(METADATA_DEPLOY_ROLE.into(), role.as_str().into());
        let created = self
            .cp
            .agent
            .create(NewMachine {
                id: id.clone(),
                app: self.app(),
                name,
                region,
                config,
                skip_launch: false,
                cordoned: true,
                min_secrets_version: None,
            })
            .await;
        if let Err(e) = created {
            // Anything it left is destroyed when the deploy ends.
            return Ok(Err(OneOffError::Start(e.to_string())));
        }
        let outcome = self.cp.wait_exit(&id, timeout, timeout_hint).await;
        self.output_events(&id, role.as_str(), log_lines).await?;
        if let Err(e) = self.cp.destroy_and_wait(&id).await {
            tracing::warn!(machine = %id, error = %e, "cannot destroy a one-off machine; the deploy destroys it when it ends");
        }
        Ok(outcome.map_err(OneOffError::Run))
    }

    /// Destroys every live one-off Machine of this deploy: after a restart,
    /// those the previous run left; at the end, any whose destroy failed.
    pub(super) async fn destroy_leftover_one_offs(&mut self) -> HttpResult<()> {
        let deploy = &self.record.deployment.id;
        let leftovers: Vec<_> = self
            .cp
            .agent
            .list(&self.record.deployment.app)
            .await
            .into_iter()
            .filter(|m| m.state != MachineState::Destroyed)
            .filter(|m| m.config.metadata.get(METADATA_DEPLOY_ID) == Some(deploy))
            .collect();
        for machine in leftovers {
            let id = machine.id.as_str();
            let what = machine
                .config
                .metadata
                .get(METADATA_DEPLOY_ROLE)
                .and_then(|role| Role::parse(role))
                .map_or("one-off machine", Role::machine_name);
            match self.cp.destroy_and_wait(id).await {
                Ok(()) => {
                    self.event(
                        EventLevel::Info,
                        "cleanup",
                        format!("destroyed leftover {what} {id}"),
                        Some(id),
                    )
                    .await?
                }
                Err(e) => {
                    self.event(
                        EventLevel::Warn,
                        "cleanup",
                        format!(
                            "cannot destroy leftover {what} {id}: {e}; destroy it with `hangar machine destroy --force {id}`"
                        ),
                        Some(id),
                    )
                    .await?
                }
            }
        }
        Ok(())
    }

    /// The last `lines` of a one-off Machine's output as events of `phase`
    /// (stderr as warnings).
    async fn output_events(&mut self, id: &str, phase: &str, lines: usize) -> HttpResult<()> {
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

impl ControlPlane {
    /// Waits for a one-off Machine to exit; its exit code (128 + signal when
    /// killed). `hint` says what to do when it runs past `timeout`.
    async fn wait_exit(&self, id: &str, timeout: Duration, hint: &str) -> Result<i32, String> {
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
