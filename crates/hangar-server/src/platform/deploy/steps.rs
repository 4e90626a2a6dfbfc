//! Applying and undoing one plan action, and waiting for a Machine to be
//! healthy. Both directions are idempotent: each looks at the Machine first
//! and does nothing when it is already as wanted, so a deploy resumed after
//! a restart can replay the batch it was in.

use std::time::{Duration, Instant};

use hangar_agent::{MachineRecord, NewMachine};
use hangar_types::{ids, MachineState};

use super::plan::{has_checks, Action};
use crate::platform::ControlPlane;

/// How often a wait looks at the Machine again.
const POLL: Duration = Duration::from_millis(250);
/// How long a destroy may take.
const DESTROY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a cordoned Machine keeps running before a deploy stops or
/// destroys it. The control plane cannot see the edge proxy, so it waits
/// for the two things that may still send a request to the Machine: the
/// proxy's route snapshot, rebuilt from the agent's cordon announcement
/// within milliseconds, and requests already forwarded to the Machine,
/// which a web app answers well within this time. After it, no new request
/// goes to the Machine and none is cut off by the stop.
pub(super) const DRAIN: Duration = Duration::from_secs(2);

impl ControlPlane {
    /// The Machine if it exists and is not destroyed.
    pub(super) async fn live_machine(&self, id: &str) -> Option<MachineRecord> {
        self.agent
            .record(id)
            .await
            .ok()
            .filter(|r| r.state != MachineState::Destroyed)
    }

    /// Takes a started Machine that serves traffic out of the proxy's routes
    /// (cordons it) and waits [`DRAIN`], so that stopping it afterwards
    /// fails no request. Nothing to do for a Machine that is not started or
    /// has no services. Idempotent: a replay cordons nothing new and only
    /// waits again.
    pub(super) async fn cordon_and_drain(&self, machine: &MachineRecord) -> Result<(), String> {
        if machine.state != MachineState::Started || machine.config.services.is_empty() {
            return Ok(());
        }
        let id = &machine.id;
        if !machine.cordoned {
            self.agent
                .set_cordoned(id, true)
                .await
                .map_err(|e| format!("cannot cordon machine {id}: {e}"))?;
        }
        tokio::time::sleep(DRAIN).await;
        Ok(())
    }

    /// Gives traffic back to a Machine (if alive and cordoned).
    pub(super) async fn uncordon(&self, id: &str) -> Result<(), String> {
        match self.live_machine(id).await {
            Some(machine) if machine.cordoned => self
                .agent
                .set_cordoned(id, false)
                .await
                .map_err(|e| format!("cannot uncordon machine {id}: {e}")),
            _ => Ok(()),
        }
    }

    /// Cordons and drains a Machine (if alive), stops it the way its config
    /// asks (`kill_signal`, then SIGKILL after `kill_timeout`) so requests
    /// still running finish, destroys it and waits until it is gone.
    pub(super) async fn destroy_and_wait(&self, id: &str) -> Result<(), String> {
        let Some(machine) = self.live_machine(id).await else {
            return Ok(());
        };
        self.cordon_and_drain(&machine).await?;
        if machine.state == MachineState::Started {
            self.agent
                .stop(id, None, None)
                .await
                .map_err(|e| format!("cannot stop machine {id}: {e}"))?;
            self.agent
                .wait(
                    id,
                    &[MachineState::Stopped, MachineState::Failed],
                    None,
                    DESTROY_TIMEOUT,
                )
                .await
                .map_err(|e| format!("machine {id} did not stop: {e}"))?;
        }
        self.agent
            .destroy(id, true)
            .await
            .map_err(|e| format!("cannot destroy machine {id}: {e}"))?;
        self.agent
            .wait(id, &[MachineState::Destroyed], None, DESTROY_TIMEOUT)
            .await
            .map_err(|e| format!("machine {id} was not destroyed: {e}"))?;
        self.release_unmounted(&machine.app, id, None).await
    }

    /// Does `action` unless it is already done. With `drain`, a Machine the
    /// action updates is cordoned and drained first; the caller uncordons it
    /// once it is healthy again.
    pub(super) async fn apply_action(
        &self,
        app: &str,
        action: &Action,
        drain: bool,
    ) -> Result<(), String> {
        match action {
            Action::Create {
                machine_id,
                name,
                region,
                config,
                cordoned,
                skip_launch,
                ..
            } => {
                if self.agent.record(machine_id).await.is_ok() {
                    return Ok(());
                }
                let mut config = (**config).clone();
                self.claim_mounts(app, machine_id, region, &mut config)
                    .await?;
                let created = self
                    .agent
                    .create(NewMachine {
                        id: machine_id.clone(),
                        app: app.to_string(),
                        name: name.clone(),
                        region: region.clone(),
                        config,
                        skip_launch: *skip_launch,
                        cordoned: *cordoned,
                        min_secrets_version: None,
                    })
                    .await;
                if let Err(e) = created {
                    self.release_unmounted(app, machine_id, None).await?;
                    return Err(format!("cannot create machine {machine_id}: {e}"));
                }
            }
            Action::Update {
                machine_id,
                new,
                skip_launch,
                min_secrets_version,
                ..
            } => {
                let current = self
                    .live_machine(machine_id)
                    .await
                    .ok_or_else(|| format!("machine {machine_id} is gone"))?;
                if current.config != **new {
                    if drain {
                        self.cordon_and_drain(&current).await?;
                    }
                    let mut config = (**new).clone();
                    self.claim_mounts(app, machine_id, &current.region, &mut config)
                        .await?;
                    self.agent
                        .update(
                            machine_id,
                            config.clone(),
                            *skip_launch,
                            *min_secrets_version,
                        )
                        .await
                        .map_err(|e| format!("cannot update machine {machine_id}: {e}"))?;
                    self.release_unmounted(app, machine_id, Some(&config))
                        .await?;
                }
            }
            Action::Destroy { machine_id, .. } => self.destroy_and_wait(machine_id).await?,
            Action::Uncordon { machine_id } => {
                self.agent
                    .set_cordoned(machine_id, false)
                    .await
                    .map_err(|e| format!("cannot uncordon machine {machine_id}: {e}"))?;
            }
        }
        Ok(())
    }

    /// Undoes `action` if it was done.
    pub(super) async fn revert_action(
        &self,
        app: &str,
        action: &Action,
        timeout: Duration,
    ) -> Result<(), String> {
        match action {
            Action::Create { machine_id, .. } => self.destroy_and_wait(machine_id).await,
            Action::Update {
                machine_id,
                old,
                skip_launch,
                ..
            } => {
                let Some(current) = self.live_machine(machine_id).await else {
                    return Ok(());
                };
                if current.config != **old {
                    self.cordon_and_drain(&current).await?;
                    let mut config = (**old).clone();
                    self.claim_mounts(app, machine_id, &current.region, &mut config)
                        .await?;
                    self.agent
                        .update(machine_id, config.clone(), *skip_launch, None)
                        .await
                        .map_err(|e| format!("cannot revert machine {machine_id}: {e}"))?;
                    self.release_unmounted(app, machine_id, Some(&config))
                        .await?;
                }
                if !*skip_launch {
                    self.wait_started(machine_id, timeout).await?;
                }
                // The apply (or this revert) may have cordoned it.
                self.uncordon(machine_id).await
            }
            Action::Destroy {
                machine_id,
                region,
                old,
                was_started,
                temporary,
                recreate_id,
            } => {
                if let Some(machine) = self.live_machine(machine_id).await {
                    // Cordoned and maybe stopped, but not destroyed yet.
                    if *was_started && !*temporary && machine.state == MachineState::Stopped {
                        self.agent
                            .start(machine_id)
                            .await
                            .map_err(|e| format!("cannot start machine {machine_id}: {e}"))?;
                        self.wait_started(machine_id, timeout).await?;
                    }
                    return self.uncordon(machine_id).await;
                }
                if *temporary || self.agent.record(recreate_id).await.is_ok() {
                    return Ok(());
                }
                let mut config = (**old).clone();
                self.claim_mounts(app, recreate_id, region, &mut config)
                    .await?;
                self.agent
                    .create(NewMachine {
                        id: recreate_id.clone(),
                        app: app.to_string(),
                        name: ids::new_machine_name(),
                        region: region.clone(),
                        config,
                        skip_launch: !*was_started,
                        cordoned: false,
                        min_secrets_version: None,
                    })
                    .await
                    .map_err(|e| format!("cannot re-create machine {machine_id}: {e}"))?;
                if *was_started {
                    self.wait_started(recreate_id, timeout).await?;
                }
                Ok(())
            }
            Action::Uncordon { .. } => Ok(()),
        }
    }

    /// Waits until the Machine is started.
    async fn wait_started(&self, id: &str, timeout: Duration) -> Result<(), String> {
        self.agent
            .wait(id, &[MachineState::Started], None, timeout)
            .await
            .map(drop)
            .map_err(|e| format!("machine {id} did not start: {e}"))
    }

    /// Waits until the Machine is started and every check passes, at most
    /// `timeout`; a Machine that fails or disappears fails at once.
    pub(super) async fn wait_healthy(&self, id: &str, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        loop {
            let record = self
                .agent
                .record(id)
                .await
                .map_err(|e| format!("machine {id}: {e}"))?;
            match record.state {
                MachineState::Failed | MachineState::Destroyed | MachineState::Destroying => {
                    let exit = record
                        .last_exit
                        .as_ref()
                        .map(|e| match (e.exit_code, e.signal) {
                            (Some(code), _) => format!(" (last exit code {code})"),
                            (None, Some(signal)) => format!(" (killed by signal {signal})"),
                            _ => String::new(),
                        })
                        .unwrap_or_default();
                    return Err(format!("machine {id} is {}{exit}", record.state));
                }
                MachineState::Started => {
                    let passing = !record.checks.is_empty()
                        && record.checks.iter().all(|c| c.status == "passing");
                    if !has_checks(&record.config) || passing {
                        return Ok(());
                    }
                }
                _ => {}
            }
            if Instant::now() >= deadline {
                let why = if record.state == MachineState::Started {
                    let failing: Vec<String> = record
                        .checks
                        .iter()
                        .filter(|c| c.status != "passing")
                        .map(|c| format!("{} is {}: {}", c.name, c.status, c.output.trim()))
                        .collect();
                    format!("its checks did not pass ({})", failing.join("; "))
                } else {
                    format!("it did not start (state {})", record.state)
                };
                return Err(format!(
                    "machine {id}: {why} within the wait timeout of {}; fix the app or raise --wait-timeout / [deploy] wait_timeout",
                    humantime::format_duration(timeout)
                ));
            }
            tokio::time::sleep(POLL).await;
        }
    }
}
