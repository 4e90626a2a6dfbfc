//! The Machine actor: one task per Machine that owns its record, applies
//! every command through the state machine, drives the driver, and persists
//! each transition (with its event) before anyone can observe it.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use hangar_driver::{ExitInfo, VolumeMount};
use hangar_image::ResolvedImage;
use hangar_types::{CheckStatus, MachineConfig, MachineEvent, MachineState, MachineVersion};
use serde_json::json;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

use crate::error::AgentError;
use crate::machine::record::{now_ms, now_rfc3339, MachineRecord};
use crate::machine::{checks, launch, lifecycle, restart, schedule};
use crate::shared::{Notice, Shared};

/// The answer channel of a command.
pub type Reply<T> = oneshot::Sender<Result<T, AgentError>>;

/// What the agent asks of a Machine.
pub enum Command {
    /// Settle after an agent restart; always the first command.
    Recover,
    Start {
        reply: Reply<MachineState>,
    },
    Stop {
        signal: Option<i32>,
        timeout: Option<Duration>,
        reply: Reply<()>,
    },
    Suspend {
        reply: Reply<()>,
    },
    Restart {
        signal: Option<i32>,
        timeout: Option<Duration>,
        reply: Reply<()>,
    },
    Signal {
        signal: i32,
        reply: Reply<()>,
    },
    Update {
        config: Box<MachineConfig>,
        image: Box<ResolvedImage>,
        skip_launch: bool,
        min_secrets_version: Option<u64>,
        reply: Reply<MachineRecord>,
    },
    Destroy {
        force: bool,
        reply: Reply<()>,
    },
    SetCordoned {
        cordoned: bool,
        reply: Reply<()>,
    },
    SetMetadata {
        key: String,
        value: Option<String>,
        reply: Reply<()>,
    },
    /// A Machine this one stands by for has failed.
    StandbyFor {
        failed: String,
    },
    /// The agent is stopping: kill the task and free host resources, but
    /// keep the recorded state, so that the next start restores it.
    Shutdown {
        reply: oneshot::Sender<()>,
    },
}

/// What happens once the running task exits.
enum AfterExit {
    Stop,
    Restart,
    Replace { skip_launch: bool },
    Destroy,
}

type ExitFuture = Pin<Box<dyn Future<Output = ExitInfo> + Send>>;

/// The actor state.
pub struct MachineActor {
    shared: Arc<Shared>,
    record: MachineRecord,
    view: watch::Sender<MachineRecord>,
    commands: mpsc::Receiver<Command>,
    exit: Option<ExitFuture>,
    after_exit: Option<AfterExit>,
    stop_deadline: Option<Instant>,
    restart_at: Option<Instant>,
    schedule_at: Option<Instant>,
    checks_task: Option<tokio::task::JoinHandle<()>>,
    check_tx: mpsc::Sender<checks::CheckResult>,
    check_rx: mpsc::Receiver<checks::CheckResult>,
    /// A transition added an event since old events were last pruned; the
    /// actor prunes once the command (or timer) that made it is answered.
    prune_due: bool,
}

enum Wake {
    Command(Option<Command>),
    Exited(ExitInfo),
    StopDeadline,
    RestartDue,
    ScheduleDue,
    Check(checks::CheckResult),
}

async fn at(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

async fn exited(exit: &mut Option<ExitFuture>) -> ExitInfo {
    match exit {
        Some(fut) => fut.await,
        None => std::future::pending().await,
    }
}

impl MachineActor {
    pub fn new(
        shared: Arc<Shared>,
        record: MachineRecord,
        commands: mpsc::Receiver<Command>,
    ) -> (Self, watch::Receiver<MachineRecord>) {
        let (view, view_rx) = watch::channel(record.clone());
        let (check_tx, check_rx) = mpsc::channel(64);
        (
            MachineActor {
                shared,
                record,
                view,
                commands,
                exit: None,
                after_exit: None,
                stop_deadline: None,
                restart_at: None,
                schedule_at: None,
                checks_task: None,
                check_tx,
                check_rx,
                prune_due: false,
            },
            view_rx,
        )
    }

    /// Runs until the agent drops the command channel.
    pub async fn run(mut self) {
        loop {
            let wake = tokio::select! {
                cmd = self.commands.recv() => Wake::Command(cmd),
                info = exited(&mut self.exit) => Wake::Exited(info),
                _ = at(self.stop_deadline) => Wake::StopDeadline,
                _ = at(self.restart_at) => Wake::RestartDue,
                _ = at(self.schedule_at) => Wake::ScheduleDue,
                Some(result) = self.check_rx.recv() => Wake::Check(result),
            };
            match wake {
                Wake::Command(None) => break,
                Wake::Command(Some(Command::Shutdown { reply })) => {
                    self.release_host_resources().await;
                    let _ = reply.send(());
                    break;
                }
                Wake::Command(Some(cmd)) => self.handle(cmd).await,
                Wake::Exited(info) => self.on_exit(info).await,
                Wake::StopDeadline => {
                    self.stop_deadline = None;
                    if let Some(task) = &self.record.task {
                        if let Err(err) = self.shared.driver.kill(task).await {
                            tracing::warn!(machine = %self.record.id, %err, "kill after stop timeout failed");
                        }
                    }
                }
                Wake::RestartDue => {
                    self.restart_at = None;
                    if self.record.state == MachineState::Restarting {
                        let _ = self.boot("restart", "flyd", None).await;
                    }
                }
                Wake::ScheduleDue => {
                    self.schedule_at = None;
                    if matches!(
                        self.record.state,
                        MachineState::Stopped | MachineState::Created
                    ) {
                        let _ = self
                            .boot("start", "flyd", Some(json!({"reason": "scheduled run"})))
                            .await;
                    }
                }
                Wake::Check(result) => self.record_check(result).await,
            }
            self.prune_events_if_due().await;
        }
        if let Some(t) = self.checks_task.take() {
            t.abort();
        }
    }

    async fn handle(&mut self, cmd: Command) {
        match cmd {
            Command::Recover => self.recover().await,
            Command::Start { reply } => {
                let result = self.start().await;
                let _ = reply.send(result);
            }
            Command::Stop {
                signal,
                timeout,
                reply,
            } => {
                let result = self.stop(signal, timeout).await;
                let _ = reply.send(result);
            }
            Command::Suspend { reply } => {
                let result = self.suspend().await;
                let _ = reply.send(result);
            }
            Command::Restart {
                signal,
                timeout,
                reply,
            } => {
                let result = self.restart(signal, timeout).await;
                let _ = reply.send(result);
            }
            Command::Signal { signal, reply } => {
                let result = self.signal(signal).await;
                let _ = reply.send(result);
            }
            Command::Update {
                config,
                image,
                skip_launch,
                min_secrets_version,
                reply,
            } => {
                self.record.min_secrets_version = min_secrets_version;
                let result = self.update(*config, *image, skip_launch).await;
                let _ = reply.send(result);
            }
            Command::Destroy { force, reply } => {
                let result = self.destroy(force).await;
                let _ = reply.send(result);
            }
            Command::SetCordoned { cordoned, reply } => {
                let result = self
                    .check(lifecycle::Action::Update)
                    .map_err(AgentError::from);
                if result.is_ok() {
                    self.record.cordoned = cordoned;
                    let kind = if cordoned { "cordon" } else { "uncordon" };
                    self.transition(self.record.state, kind, "user", None).await;
                }
                let _ = reply.send(result);
            }
            Command::SetMetadata { key, value, reply } => {
                let result = self
                    .check(lifecycle::Action::Update)
                    .map_err(AgentError::from);
                if result.is_ok() {
                    match value {
                        Some(v) => self.record.config.metadata.insert(key, v),
                        None => self.record.config.metadata.remove(&key),
                    };
                    self.persist().await;
                }
                let _ = reply.send(result);
            }
            Command::Shutdown { reply } => {
                // Handled in `run`, which stops the loop.
                let _ = reply.send(());
            }
            Command::StandbyFor { failed } => {
                if matches!(
                    self.record.state,
                    MachineState::Stopped | MachineState::Created
                ) {
                    let _ = self
                        .boot("start", "flyd", Some(json!({"standby_for": failed})))
                        .await;
                }
            }
        }
    }

    fn check(&self, action: lifecycle::Action) -> Result<(), lifecycle::IllegalTransition> {
        lifecycle::check(&self.record.id, self.record.state, action)
    }

    /// Moves to `state`, recording an event, persisting, then publishing.
    async fn transition(
        &mut self,
        state: MachineState,
        kind: &str,
        source: &str,
        request: Option<serde_json::Value>,
    ) {
        self.record.state = state;
        self.record.updated_at = now_rfc3339();
        let event = MachineEvent {
            id: ulid::Ulid::new().to_string(),
            kind: kind.to_string(),
            status: state.as_str().to_string(),
            source: source.to_string(),
            timestamp: now_ms(),
            request,
        };
        if let Err(err) = self.shared.ledger.save(&self.record, Some(&event)).await {
            tracing::error!(machine = %self.record.id, %err, "cannot persist machine transition");
        }
        tracing::info!(machine = %self.record.id, app = %self.record.app, event = kind, state = %state, "machine transition");
        self.publish();
        // Pruning old events is housekeeping: `run` does it after the
        // command's answer, so that it never delays one (a start's answer
        // waits for `started`, not for a prune and its fsync).
        self.prune_due = true;
        if matches!(state, MachineState::Stopped | MachineState::Created) {
            self.arm_schedule();
        }
    }

    /// Drops the oldest events beyond the retention count, once per command
    /// that added events.
    async fn prune_events_if_due(&mut self) {
        if !std::mem::take(&mut self.prune_due) {
            return;
        }
        if let Err(err) = self.shared.ledger.prune_events(&self.record.id).await {
            tracing::warn!(machine = %self.record.id, %err, "cannot prune machine events");
        }
    }

    /// Publishes the record to its readers and announces the change.
    fn publish(&self) {
        self.view.send_replace(self.record.clone());
        self.shared.announce_change();
    }

    /// Persists and publishes the record without a state change.
    async fn persist(&mut self) {
        self.record.updated_at = now_rfc3339();
        if let Err(err) = self.shared.ledger.save(&self.record, None).await {
            tracing::error!(machine = %self.record.id, %err, "cannot persist machine record");
        }
        self.publish();
    }

    fn arm_schedule(&mut self) {
        self.schedule_at = self
            .record
            .config
            .schedule
            .as_deref()
            .and_then(schedule::interval)
            .map(|every| {
                let created = humantime::parse_rfc3339(&self.record.created_at)
                    .ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map(|d| d.as_millis() as i64)
                    .unwrap_or_else(now_ms);
                Instant::now() + schedule::until_next_run(every, created, now_ms())
            });
    }

    fn check_ip(&self) -> IpAddr {
        match self.record.ipv4 {
            Some(ip) if self.shared.isolated => IpAddr::V4(ip),
            _ => IpAddr::V4(Ipv4Addr::LOCALHOST),
        }
    }

    async fn recover(&mut self) {
        let had_task = if let Some(task) = self.record.task.take() {
            if let Err(err) = self.shared.driver.recover(&task).await {
                tracing::warn!(machine = %self.record.id, %err, "recovering the previous task failed");
            }
            self.persist().await;
            true
        } else {
            false
        };
        use MachineState as S;
        match self.record.state {
            S::Started | S::Starting | S::Restarting | S::Replacing => {
                let _ = self
                    .boot("start", "flyd", Some(json!({"reason": "agent restarted; machine brought back to its desired state"})))
                    .await;
            }
            S::Stopping => self.transition(S::Stopped, "exit", "flyd", Some(json!({"reason": "agent restarted while stopping"}))).await,
            S::Suspending => self.transition(S::Suspended, "suspend", "flyd", Some(json!({"snapshot_lost": true}))).await,
            S::Suspended if had_task => {
                self.transition(S::Suspended, "suspend", "flyd", Some(json!({"snapshot_lost": true, "reason": "agent restarted; the next start boots cold"})))
                    .await
            }
            S::Destroying => self.finish_destroy().await,
            S::Created | S::Stopped => self.arm_schedule(),
            _ => {}
        }
    }

    async fn start(&mut self) -> Result<MachineState, AgentError> {
        self.check(lifecycle::Action::Start)?;
        let previous = self.record.state;
        if previous == MachineState::Suspended {
            if let Some(task) = self.record.task.clone() {
                self.shared.driver.thaw(&task).await?;
                self.transition(
                    MachineState::Started,
                    "start",
                    "user",
                    Some(json!({"resumed": true})),
                )
                .await;
                self.start_checks();
                return Ok(previous);
            }
        }
        self.boot("start", "user", None).await?;
        Ok(previous)
    }

    /// Starts the main process from the image: `starting` → `started`, or
    /// `failed` with the reason in the event.
    async fn boot(
        &mut self,
        kind: &str,
        source: &str,
        request: Option<serde_json::Value>,
    ) -> Result<(), AgentError> {
        self.restart_at = None;
        self.schedule_at = None;
        let began = std::time::Instant::now();
        // The image is resolved (read only: nothing is created on the host)
        // while `starting` is persisted; the driver creates the task only
        // once `starting` is durable.
        let resolving = {
            let images = self.shared.images.clone();
            let reference = self.record.config.image.clone();
            tokio::spawn(async move {
                let image = images.resolve(&reference).await;
                (image, began.elapsed())
            })
        };
        self.transition(MachineState::Starting, kind, source, request)
            .await;
        let starting_saved = began.elapsed();
        let (image, image_resolved) = match resolving.await {
            Ok(resolved) => resolved,
            Err(err) if err.is_panic() => std::panic::resume_unwind(err.into_panic()),
            Err(_) => return Err(AgentError::ShuttingDown),
        };
        match self.launch(image, began).await {
            Ok(()) => {
                let launched = began.elapsed();
                self.transition(MachineState::Started, "start", source, None)
                    .await;
                tracing::debug!(
                    machine = %self.record.id,
                    ?starting_saved,
                    ?image_resolved,
                    ?launched,
                    started_saved = ?began.elapsed(),
                    "machine boot (times since the boot began: `starting` persisted, image resolved (beside it), driver start returned, `started` persisted and published)"
                );
                Ok(())
            }
            Err(err) => {
                tracing::warn!(machine = %self.record.id, %err, "machine failed to start");
                self.transition(
                    MachineState::Failed,
                    "launch_failed",
                    "flyd",
                    Some(json!({"error": err.to_string()})),
                )
                .await;
                let _ = self
                    .shared
                    .notices
                    .send(Notice::Failed(self.record.id.clone()));
                Err(err)
            }
        }
    }

    /// Starts the task from the resolved image: volumes, spec, driver, logs
    /// and checks. `began` is when the boot began, for the debug timings.
    async fn launch(
        &mut self,
        image: Result<ResolvedImage, hangar_image::ImageError>,
        began: std::time::Instant,
    ) -> Result<(), AgentError> {
        let image = image?;
        let network = match (self.record.ipv4, self.record.ipv6) {
            (Some(v4), Some(v6)) if self.shared.isolated => {
                Some(self.shared.subnets.network_spec(v4, v6))
            }
            _ => None,
        };
        let mut mounts = Vec::new();
        for mount in &self.record.config.mounts {
            let host_path = self.shared.volumes.attach(&mount.volume).await?;
            mounts.push(VolumeMount {
                host_path,
                guest_path: mount.path.clone(),
            });
        }
        let volumes_attached = began.elapsed();
        crate::agent::check_secrets_version(
            &self.shared.secrets,
            &self.record.id,
            &self.record.app,
            self.record.min_secrets_version,
        )?;
        let secrets = self.shared.secrets.resolve(&self.record.app);
        let spec = launch::spec(&self.record, &image, network, mounts, &secrets)?;
        let spec_built = began.elapsed();
        let task = self.shared.driver.start(&spec).await?;
        let driver_started = began.elapsed();
        let log = self.shared.logs.machine(&self.record.id);
        log.clone()
            .pump(task.stdout, "stdout", self.record.instance_id.clone());
        log.pump(task.stderr, "stderr", self.record.instance_id.clone());
        self.record.task = Some(task.handle);
        self.exit = Some(task.exit);
        self.start_checks();
        tracing::debug!(
            machine = %self.record.id,
            volumes = self.record.config.mounts.len(),
            ?volumes_attached,
            ?spec_built,
            ?driver_started,
            logs_and_checks = ?began.elapsed(),
            "machine launch (times since the boot began: volumes attached, secrets and spec ready, driver start returned, log pumps and checks started)"
        );
        Ok(())
    }

    fn start_checks(&mut self) {
        if let Some(t) = self.checks_task.take() {
            t.abort();
        }
        let plans = checks::plan(&self.record.config);
        if plans.is_empty() {
            self.record.checks.clear();
            return;
        }
        let now = now_rfc3339();
        self.record.checks = plans
            .iter()
            .map(|p| CheckStatus {
                name: p.name.clone(),
                status: "warning".into(),
                output: "waiting for the first check".into(),
                updated_at: now.clone(),
            })
            .collect();
        self.checks_task = Some(checks::spawn(plans, self.check_ip(), self.check_tx.clone()));
    }

    fn stop_checks(&mut self) {
        if let Some(t) = self.checks_task.take() {
            t.abort();
        }
        // Results already queued belong to the stopped task.
        while self.check_rx.try_recv().is_ok() {}
    }

    async fn record_check(&mut self, result: checks::CheckResult) {
        if self.record.state != MachineState::Started {
            return;
        }
        let status = if result.passing {
            "passing"
        } else {
            "critical"
        };
        let now = now_rfc3339();
        let mut changed = false;
        if let Some(c) = self
            .record
            .checks
            .iter_mut()
            .find(|c| c.name == result.name)
        {
            changed = c.status != status;
            c.status = status.to_string();
            c.output = result.output;
            c.updated_at = now;
        }
        if changed {
            self.persist().await;
        } else {
            self.publish();
        }
    }

    fn stop_signal(&self, requested: Option<i32>) -> i32 {
        requested
            .or_else(|| {
                self.record
                    .config
                    .stop_config
                    .as_ref()
                    .and_then(|s| s.signal.as_deref())
                    .and_then(hangar_types::signal_number)
            })
            .unwrap_or(libc::SIGINT)
    }

    fn stop_timeout(&self, requested: Option<Duration>) -> Duration {
        requested
            .or_else(|| {
                self.record
                    .config
                    .stop_config
                    .as_ref()
                    .and_then(|s| s.timeout)
                    .map(|d| d.0)
            })
            .unwrap_or(Duration::from_secs(5))
    }

    /// Asks the running task to exit: signal now, SIGKILL at the deadline.
    async fn request_exit(
        &mut self,
        signal: Option<i32>,
        timeout: Option<Duration>,
        then: AfterExit,
    ) {
        self.after_exit = Some(then);
        self.stop_checks();
        let Some(task) = self.record.task.clone() else {
            return;
        };
        if self.record.state == MachineState::Suspended {
            let _ = self.shared.driver.thaw(&task).await;
        }
        let sig = self.stop_signal(signal);
        if let Err(err) = self.shared.driver.signal(&task, sig).await {
            tracing::debug!(machine = %self.record.id, %err, "stop signal not delivered; killing");
            let _ = self.shared.driver.kill(&task).await;
        }
        self.stop_deadline = Some(Instant::now() + self.stop_timeout(timeout));
    }

    async fn stop(
        &mut self,
        signal: Option<i32>,
        timeout: Option<Duration>,
    ) -> Result<(), AgentError> {
        self.check(lifecycle::Action::Stop)?;
        match self.record.state {
            MachineState::Started => {
                self.transition(MachineState::Stopping, "stop", "user", None)
                    .await;
                self.request_exit(signal, timeout, AfterExit::Stop).await;
            }
            MachineState::Suspended if self.exit.is_some() => {
                self.transition(MachineState::Stopping, "stop", "user", None)
                    .await;
                self.request_exit(Some(libc::SIGKILL), timeout, AfterExit::Stop)
                    .await;
            }
            MachineState::Suspended | MachineState::Restarting => {
                self.restart_at = None;
                self.transition(MachineState::Stopped, "stop", "user", None)
                    .await;
            }
            _ => {}
        }
        Ok(())
    }

    async fn suspend(&mut self) -> Result<(), AgentError> {
        self.check(lifecycle::Action::Suspend)?;
        let task = self
            .record
            .task
            .clone()
            .ok_or_else(|| AgentError::NotFound(self.record.id.clone()))?;
        self.transition(MachineState::Suspending, "suspend", "user", None)
            .await;
        match self.shared.driver.freeze(&task).await {
            Ok(()) => {
                self.stop_checks();
                self.transition(MachineState::Suspended, "suspend", "user", None)
                    .await;
                Ok(())
            }
            Err(err) => {
                self.transition(
                    MachineState::Started,
                    "suspend",
                    "flyd",
                    Some(json!({"error": err.to_string()})),
                )
                .await;
                Err(err.into())
            }
        }
    }

    async fn restart(
        &mut self,
        signal: Option<i32>,
        timeout: Option<Duration>,
    ) -> Result<(), AgentError> {
        self.check(lifecycle::Action::Restart)?;
        self.transition(MachineState::Restarting, "restart", "user", None)
            .await;
        self.request_exit(signal, timeout, AfterExit::Restart).await;
        Ok(())
    }

    async fn signal(&mut self, signal: i32) -> Result<(), AgentError> {
        self.check(lifecycle::Action::Signal)?;
        let task = self
            .record
            .task
            .clone()
            .ok_or_else(|| AgentError::NotFound(self.record.id.clone()))?;
        self.shared.driver.signal(&task, signal).await?;
        Ok(())
    }

    async fn update(
        &mut self,
        config: MachineConfig,
        image: ResolvedImage,
        skip_launch: bool,
    ) -> Result<MachineRecord, AgentError> {
        self.check(lifecycle::Action::Update)?;
        self.record.config = config;
        self.record.instance_id = hangar_types::ids::new_instance_id();
        self.record.image_ref = crate::shared::image_ref(&image);
        self.record.versions.push(MachineVersion {
            version: self.record.instance_id.clone(),
            user_config: self.record.config.clone(),
        });
        if self.record.versions.len() > 20 {
            self.record.versions.remove(0);
        }
        match self.record.state {
            MachineState::Started | MachineState::Suspended => {
                self.transition(MachineState::Replacing, "update", "user", None)
                    .await;
                self.request_exit(None, None, AfterExit::Replace { skip_launch })
                    .await;
            }
            MachineState::Restarting => {
                self.restart_at = None;
                self.transition(MachineState::Stopped, "update", "user", None)
                    .await;
                if !skip_launch {
                    self.boot("start", "user", None).await?;
                }
            }
            state => {
                self.transition(state, "update", "user", None).await;
                if !skip_launch {
                    self.boot("start", "user", None).await?;
                }
            }
        }
        Ok(self.record.clone())
    }

    async fn destroy(&mut self, force: bool) -> Result<(), AgentError> {
        self.check(lifecycle::Action::Destroy { force })?;
        if self.exit.is_some() {
            self.transition(MachineState::Destroying, "destroy", "user", None)
                .await;
            self.request_exit(
                Some(libc::SIGKILL),
                Some(Duration::from_secs(1)),
                AfterExit::Destroy,
            )
            .await;
        } else {
            self.finish_destroy().await;
        }
        Ok(())
    }

    async fn finish_destroy(&mut self) {
        self.restart_at = None;
        self.schedule_at = None;
        self.stop_checks();
        if self.record.state != MachineState::Destroying {
            self.transition(MachineState::Destroying, "destroy", "user", None)
                .await;
        }
        if let Some(task) = self.record.task.take() {
            if let Err(err) = self.shared.driver.cleanup(&task).await {
                tracing::warn!(machine = %self.record.id, %err, "cleanup after destroy failed");
            }
        }
        self.release_volumes().await;
        if let Some(ip) = self.record.ipv4 {
            let _ = self.shared.notices.send(Notice::AddressFree(ip));
        }
        self.record.checks.clear();
        self.transition(MachineState::Destroyed, "destroy", "user", None)
            .await;
        self.shared.logs.remove(&self.record.id);
    }

    async fn release_host_resources(&mut self) {
        self.stop_checks();
        if let Some(task) = self.record.task.clone() {
            let _ = self.shared.driver.thaw(&task).await;
            let _ = self.shared.driver.kill(&task).await;
            if let Some(exit) = self.exit.take() {
                let _ = tokio::time::timeout(Duration::from_secs(5), exit).await;
            }
            if let Err(err) = self.shared.driver.cleanup(&task).await {
                tracing::warn!(machine = %self.record.id, %err, "cleanup at shutdown failed");
            }
            self.record.task = None;
            if let Err(err) = self.shared.ledger.save(&self.record, None).await {
                tracing::error!(machine = %self.record.id, %err, "cannot persist machine record at shutdown");
            }
        }
        self.release_volumes().await;
    }

    /// Unmounts the Machine's volumes from the host once nothing uses them,
    /// so that pending growth applies at the next start.
    async fn release_volumes(&mut self) {
        for mount in &self.record.config.mounts {
            if let Err(err) = self.shared.volumes.detach(&mount.volume).await {
                tracing::warn!(machine = %self.record.id, volume = %mount.volume, %err, "cannot unmount volume");
            }
        }
    }

    async fn on_exit(&mut self, info: ExitInfo) {
        self.exit = None;
        self.stop_deadline = None;
        self.stop_checks();
        if let Some(task) = self.record.task.take() {
            if let Err(err) = self.shared.driver.cleanup(&task).await {
                tracing::warn!(machine = %self.record.id, %err, "cleanup after exit failed");
            }
        }
        self.release_volumes().await;
        self.record.last_exit = Some(info);
        let requested = self.after_exit.is_some();
        let exit_event = |restarting: bool, restart_count: usize| {
            json!({
                "exit_event": {
                    "exit_code": info.exit_code.unwrap_or(-1),
                    "guest_exit_code": info.exit_code.unwrap_or(-1),
                    "signal": info.signal.unwrap_or(-1),
                    "oom_killed": info.oom_killed,
                    "requested_stop": requested,
                    "restarting": restarting,
                    "exited_at": now_rfc3339(),
                },
                "restart_count": restart_count,
            })
        };
        let restart_count = self.record.recent_restarts.len();
        match self.after_exit.take() {
            Some(AfterExit::Stop) => {
                self.transition(
                    MachineState::Stopped,
                    "exit",
                    "user",
                    Some(exit_event(false, restart_count)),
                )
                .await;
            }
            Some(AfterExit::Restart) => {
                self.transition(
                    MachineState::Restarting,
                    "exit",
                    "user",
                    Some(exit_event(true, restart_count)),
                )
                .await;
                let _ = self.boot("restart", "user", None).await;
            }
            Some(AfterExit::Replace { skip_launch }) => {
                if skip_launch {
                    self.transition(
                        MachineState::Stopped,
                        "exit",
                        "user",
                        Some(exit_event(false, restart_count)),
                    )
                    .await;
                } else {
                    self.transition(
                        MachineState::Replacing,
                        "exit",
                        "user",
                        Some(exit_event(true, restart_count)),
                    )
                    .await;
                    let _ = self.boot("update", "user", None).await;
                }
            }
            Some(AfterExit::Destroy) => self.finish_destroy().await,
            None => self.on_unrequested_exit(info, exit_event).await,
        }
    }

    async fn on_unrequested_exit(
        &mut self,
        info: ExitInfo,
        exit_event: impl Fn(bool, usize) -> serde_json::Value,
    ) {
        let now = now_ms();
        self.record
            .recent_restarts
            .retain(|t| now - *t < restart::RETRY_WINDOW_MS);
        if info.oom_killed {
            let log = self.shared.logs.machine(&self.record.id);
            log.append(&crate::logs::LogLine {
                timestamp: now_rfc3339(),
                stream: "stderr".into(),
                message: format!(
                    "[hangar] out of memory: the machine's main process was killed (memory limit {} MB)",
                    self.record.config.guest.as_ref().and_then(|g| g.memory_mb).unwrap_or(256)
                ),
                instance_id: self.record.instance_id.clone(),
            });
        }
        if restart::should_restart(
            &self.record.config,
            &info,
            &self.record.recent_restarts,
            now,
        ) {
            let delay = restart::backoff(self.record.recent_restarts.len());
            self.record.recent_restarts.push(now);
            let count = self.record.recent_restarts.len();
            self.transition(
                MachineState::Restarting,
                "exit",
                "flyd",
                Some(exit_event(true, count)),
            )
            .await;
            self.restart_at = Some(Instant::now() + delay);
            return;
        }
        let count = self.record.recent_restarts.len();
        self.transition(
            MachineState::Stopped,
            "exit",
            "flyd",
            Some(exit_event(false, count)),
        )
        .await;
        if restart::is_failure(&info) {
            let _ = self
                .shared
                .notices
                .send(Notice::Failed(self.record.id.clone()));
        }
        let auto_destroy = self.record.config.auto_destroy == Some(true);
        if auto_destroy && restart::policy(&self.record.config) == hangar_types::RestartPolicy::No {
            self.finish_destroy().await;
        }
    }
}
