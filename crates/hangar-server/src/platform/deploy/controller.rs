//! The deploy controller: one task per deploy, one deploy at a time per
//! app. It walks the phases (release command, rollout batch by batch,
//! revert) and persists the record after every step, so that a control
//! plane restarted mid-deploy picks it up where it stopped (see
//! [`super::resume_deploys`]).

use std::sync::Arc;

use futures_util::future::join_all;
use hangar_config::{Config, Format};
use hangar_store::{Op, StoreExt, Txn};
use hangar_types::{DeployEvent, DeployState, EventLevel, ReleaseStatus};

use super::plan::{self, Action, Plan, PlanInput, Strategy};
use super::record::{event_key, record_key, DeployRecord, Phase};
use crate::http::error::{HttpError, HttpResult};
use crate::platform::{now_rfc3339, ControlPlane};

/// A deploy being driven: the control plane and the deploy's record.
pub(super) struct Run {
    pub cp: Arc<ControlPlane>,
    pub record: DeployRecord,
}

impl Run {
    pub fn app(&self) -> String {
        self.record.deployment.app.clone()
    }

    /// Persists the record.
    pub async fn save(&mut self) -> HttpResult<()> {
        let key = record_key(&self.record.deployment.app, &self.record.deployment.id);
        self.cp.store.put_json(&key, &self.record).await?;
        Ok(())
    }

    /// Appends an event (persisted before the record moves on).
    pub async fn event(
        &mut self,
        level: EventLevel,
        phase: &str,
        message: impl Into<String>,
        machine_id: Option<&str>,
    ) -> HttpResult<()> {
        let seq = self.record.next_seq;
        let event = DeployEvent {
            seq,
            time: now_rfc3339(),
            phase: phase.to_string(),
            message: message.into(),
            machine_id: machine_id.map(str::to_string),
            level,
        };
        tracing::info!(deploy = %self.record.deployment.id, phase, message = %event.message, "deploy event");
        // The event and the record move together: a reader that sees the
        // closing event also sees the final state, and the other way round.
        self.record.next_seq += 1;
        let app = &self.record.deployment.app;
        let id = &self.record.deployment.id;
        let encode = |value: serde_json::Result<Vec<u8>>| {
            value.map_err(|e| HttpError::internal(format!("cannot encode a deploy: {e}")))
        };
        let txn = Txn::new().then(vec![
            Op::put(event_key(app, id, seq), encode(serde_json::to_vec(&event))?),
            Op::put(
                record_key(app, id),
                encode(serde_json::to_vec(&self.record))?,
            ),
        ]);
        self.cp.store.txn(txn).await?;
        if let Ok(workflow) = self.cp.workflow() {
            workflow.events_written.send_modify(|n| *n += 1);
        }
        Ok(())
    }

    pub async fn info(&mut self, phase: &str, message: impl Into<String>) -> HttpResult<()> {
        self.event(EventLevel::Info, phase, message, None).await
    }

    pub fn config(&self) -> Result<Config, String> {
        let path = self
            .record
            .spec
            .config_path
            .as_deref()
            .map(std::path::Path::new);
        hangar_config::load_str(&self.record.spec.fly_toml, Format::Toml, path)
            .map(|loaded| loaded.config)
            .map_err(|e| e.to_string())
    }

    /// Drives the deploy to its end from wherever its record says it is,
    /// first destroying the one-off Machines an earlier run left.
    pub async fn drive(&mut self) -> HttpResult<()> {
        self.destroy_leftover_one_offs().await?;
        loop {
            match self.record.phase {
                Phase::Queued => {
                    self.record.set_state(DeployState::Running);
                    let app = self.app();
                    let version = self.record.deployment.release_version;
                    self.cp
                        .set_release_status(&app, version, ReleaseStatus::Running)
                        .await?;
                    let release_command = self
                        .config()
                        .ok()
                        .and_then(|c| c.release_command().map(str::to_string));
                    self.record.phase = match release_command {
                        Some(_) if !self.record.spec.restart_only => Phase::ReleaseCommand,
                        _ => Phase::Rollout,
                    };
                    let strategy = self.record.deployment.strategy.clone();
                    self.info(
                        "start",
                        format!("deploying release v{version} of {app} ({strategy})"),
                    )
                    .await?;
                }
                Phase::ReleaseCommand => match self.release_command().await? {
                    Ok(()) => {
                        self.record.phase = Phase::Rollout;
                        self.save().await?;
                    }
                    Err(error) => {
                        // Nothing else changed: no revert needed.
                        return self.finish(DeployState::Failed, Some(error)).await;
                    }
                },
                Phase::Rollout => match self.rollout().await? {
                    Ok(()) => return self.finish(DeployState::Succeeded, None).await,
                    Err(error) => {
                        self.event(EventLevel::Error, "failed", error.clone(), None)
                            .await?;
                        self.record.deployment.error = Some(error.clone());
                        if self.record.spec.no_rollback {
                            return self.finish(DeployState::Failed, Some(error)).await;
                        }
                        self.record.phase = Phase::Reverting;
                        self.record.set_state(DeployState::Reverting);
                        self.info("revert", "returning every machine to the previous release")
                            .await?;
                    }
                },
                Phase::Reverting => {
                    let error = self.record.deployment.error.clone();
                    return match self.revert().await? {
                        Ok(()) => self.finish(DeployState::Reverted, error).await,
                        Err(revert_error) => {
                            let both = format!(
                                "{}; the revert failed too: {revert_error}",
                                error.unwrap_or_default()
                            );
                            self.finish(DeployState::Failed, Some(both)).await
                        }
                    };
                }
                Phase::Done => return Ok(()),
            }
        }
    }

    /// No one-off Machine left, final state, release status and the closing
    /// `done` event.
    async fn finish(&mut self, state: DeployState, error: Option<String>) -> HttpResult<()> {
        self.destroy_leftover_one_offs().await?;
        let app = self.app();
        let version = self.record.deployment.release_version;
        let status = if state == DeployState::Succeeded {
            ReleaseStatus::Complete
        } else {
            ReleaseStatus::Failed
        };
        self.cp.set_release_status(&app, version, status).await?;
        self.record.deployment.error = error.clone();
        self.record.phase = Phase::Done;
        self.record.set_state(state);
        let message = match (&error, state) {
            (_, DeployState::Succeeded) => format!("release v{version} is live"),
            (Some(e), DeployState::Reverted) => {
                format!("deploy failed and was reverted to the previous release: {e}")
            }
            (Some(e), _) => format!("deploy failed: {e}"),
            (None, _) => "deploy failed".to_string(),
        };
        let level = if state == DeployState::Succeeded {
            EventLevel::Info
        } else {
            EventLevel::Error
        };
        self.event(level, "done", message, None).await
    }

    /// Computes the plan once, then applies it batch by batch.
    async fn rollout(&mut self) -> HttpResult<Result<(), String>> {
        if self.record.plan.is_none() {
            let plan = match self.compute_plan().await {
                Ok(plan) => plan,
                Err(e) => return Ok(Err(e)),
            };
            if plan.steps.is_empty() {
                self.info(
                    "plan",
                    "no changes: every machine already runs this image and config",
                )
                .await?;
            } else {
                self.info(
                    "plan",
                    format!(
                        "{} change(s) in {} step(s)",
                        plan.steps.len(),
                        plan.batches()
                    ),
                )
                .await?;
            }
            self.record.plan = Some(plan);
            self.save().await?;
        }
        let plan = self.record.plan.clone().unwrap_or_default();
        let timeout = self.record.spec.wait_timeout();
        let app = self.app();
        while self.record.next_batch < plan.batches() {
            let batch = self.record.next_batch;
            let steps: Vec<_> = plan.batch(batch).cloned().collect();
            for step in &steps {
                let (phase, message) = describe(&step.action, &step.group);
                self.event(
                    EventLevel::Info,
                    phase,
                    message,
                    Some(step.action.machine_id()),
                )
                .await?;
                if let Err(e) = self.cp.apply_action(&app, &step.action, step.wait).await {
                    return Ok(Err(e));
                }
            }
            let waits = steps
                .iter()
                .filter(|s| s.wait)
                .map(|s| s.action.machine_id().to_string())
                .collect::<Vec<_>>();
            if !waits.is_empty() {
                self.info(
                    "checks",
                    format!("waiting for {} machine(s) to be healthy", waits.len()),
                )
                .await?;
                let cp = self.cp.clone();
                let results = join_all(waits.iter().map(|id| cp.wait_healthy(id, timeout))).await;
                for (id, result) in waits.iter().zip(results) {
                    match result {
                        Ok(()) => {
                            self.event(EventLevel::Info, "checks", "healthy", Some(id))
                                .await?
                        }
                        Err(e) => return Ok(Err(e)),
                    }
                }
            }
            // Rolling tests each updated Machine, canary its canary.
            let strategy = Strategy::parse(&self.record.deployment.strategy);
            for step in steps.iter().filter(|s| s.wait) {
                let tested = match (&step.action, strategy) {
                    (Action::Update { machine_id, .. }, Some(Strategy::Rolling)) => machine_id,
                    (
                        Action::Create {
                            machine_id,
                            temporary: true,
                            ..
                        },
                        Some(Strategy::Canary),
                    ) => machine_id,
                    _ => continue,
                };
                if let Err(e) = self.machine_checks(tested, &step.group).await? {
                    return Ok(Err(e));
                }
            }
            // Updated Machines were cordoned for the update: healthy again,
            // they get traffic back (greens wait for their own step).
            for step in steps.iter().filter(|s| s.wait) {
                if let Action::Update { machine_id, .. } = &step.action {
                    if let Err(e) = self.cp.uncordon(machine_id).await {
                        return Ok(Err(e));
                    }
                }
            }
            self.record.next_batch = batch + 1;
            self.save().await?;
        }
        Ok(Ok(()))
    }

    async fn compute_plan(&self) -> Result<Plan, String> {
        let config = self.config()?;
        let app = self.app();
        let machines = self.cp.agent.list(&app).await;
        let strategy =
            Strategy::parse(&self.record.deployment.strategy).unwrap_or(Strategy::Rolling);
        let regions = self.cp.regions();
        plan::build(&PlanInput {
            config: &config,
            image: &self.record.spec.image,
            release_id: &self.record.release_id,
            release_version: self.record.deployment.release_version,
            machines: &machines,
            strategy,
            max_unavailable: self.record.spec.max_unavailable,
            ha: self.record.spec.ha,
            restart_only: self.record.spec.restart_only,
            secrets_changed: self.record.spec.secrets_changed,
            secrets_version: self.record.spec.secrets_version,
            default_region: self.cp.agent.region(),
            regions: &regions,
        })
    }

    /// Undoes every batch up to the one that failed, newest first.
    async fn revert(&mut self) -> HttpResult<Result<(), String>> {
        let Some(plan) = self.record.plan.clone() else {
            return Ok(Ok(()));
        };
        let timeout = self.record.spec.wait_timeout();
        let app = self.app();
        let last = self.record.next_batch.min(plan.batches().saturating_sub(1));
        let mut failures = Vec::new();
        for step in plan.steps.iter().rev().filter(|s| s.batch <= last) {
            if let Err(e) = self.cp.revert_action(&app, &step.action, timeout).await {
                self.event(
                    EventLevel::Error,
                    "revert",
                    e.clone(),
                    Some(step.action.machine_id()),
                )
                .await?;
                failures.push(e);
            } else if !matches!(step.action, Action::Uncordon { .. }) {
                self.event(
                    EventLevel::Info,
                    "revert",
                    format!("reverted: {}", describe(&step.action, &step.group).1),
                    Some(step.action.machine_id()),
                )
                .await?;
            }
        }
        Ok(if failures.is_empty() {
            Ok(())
        } else {
            Err(failures.join("; "))
        })
    }
}

/// The phase and message of an action's event.
fn describe(action: &Action, group: &str) -> (&'static str, String) {
    match action {
        Action::Create {
            machine_id,
            region,
            temporary,
            cordoned,
            ..
        } => {
            let what = if *temporary {
                "canary machine"
            } else if *cordoned {
                "green machine"
            } else {
                "machine"
            };
            (
                "create",
                format!("create {what} {machine_id} for group {group} in {region}"),
            )
        }
        Action::Update { machine_id, .. } => (
            "update",
            format!("update machine {machine_id} of group {group}"),
        ),
        Action::Destroy {
            machine_id,
            temporary,
            ..
        } => {
            let what = if *temporary {
                "canary machine"
            } else {
                "machine"
            };
            (
                "destroy",
                format!("destroy {what} {machine_id} of group {group}"),
            )
        }
        Action::Uncordon { machine_id } => (
            "route",
            format!("send traffic to green machine {machine_id} of group {group}"),
        ),
    }
}
