//! Server-side deploys: the API's entry points (create, read, list, follow
//! events, resume after a restart) around the [`controller`].
//!
//! The path of a deploy: `create_deploy` validates fly.toml and what the
//! strategy asks of it ([`strategy_rules`]; a bad one is a 400 and nothing
//! is stored), records release N (`pending`) and the deploy
//! (`queued`), and spawns the controller, which waits for the app's earlier
//! deploys, runs the release command, computes the [`plan`] from the app's
//! current Machines and applies it batch by batch, gating each batch on the
//! Machines' health; on failure it reverts every step taken (unless
//! `no_rollback`). Every step is persisted first, so after a restart
//! [`ControlPlane::resume_deploys`] continues each unfinished deploy: a
//! rollout goes on from the batch it was in (steps are idempotent), a
//! revert finishes reverting, a release command runs again. The release
//! command and machine checks run in [`one_off`] Machines marked with the
//! deploy's id: those a dead run left are destroyed when the deploy resumes
//! and when it ends.

mod controller;
mod machine_checks;
mod one_off;
pub mod plan;
pub mod record;
mod release_command;
mod steps;
mod strategy_rules;
mod volumes;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::{JoinHandle, JoinSet};

use futures_util::stream::{self, BoxStream, StreamExt};
use hangar_config::{Format, LoadError};
use hangar_store::StoreExt;
use hangar_types::{CreateDeployRequest, DeployEvent, DeployState, Deployment};

use self::controller::Run;
use self::plan::Strategy;
use self::record::{events_prefix, record_key, DeployRecord, DeploySpec, Phase};
use self::strategy_rules::{check_strategy, StrategySource};
use crate::http::error::{HttpError, HttpResult};
use crate::platform::releases::NewRelease;
use crate::platform::secrets::SecretVault;
use crate::platform::{now_rfc3339, ControlPlane};

/// Default `wait_timeout` and `release_command_timeout` (reference §5.1).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);
/// How often a follower looks for new events without a notification.
const FOLLOW_RECHECK: Duration = Duration::from_secs(2);
/// Default rolling `max_unavailable`.
const DEFAULT_MAX_UNAVAILABLE: f64 = 0.33;

/// What the deploys need beyond the control plane's core: the secrets vault
/// and one lock per app (one deploy at a time).
pub struct Workflow {
    pub vault: Arc<SecretVault>,
    app_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Deploys to run, as (app, id), handed to the supervisor task.
    runs: mpsc::UnboundedSender<(String, String)>,
    /// Bumped after every deploy event written, for followers.
    pub(super) events_written: watch::Sender<u64>,
    /// Tells the supervisor to stop every deploy task.
    stop: watch::Sender<bool>,
    /// The supervisor, until [`ControlPlane::stop_workflow`].
    supervisor: Mutex<Option<JoinHandle<()>>>,
}

impl Workflow {
    fn new(vault: Arc<SecretVault>, runs: mpsc::UnboundedSender<(String, String)>) -> Workflow {
        Workflow {
            vault,
            app_locks: Mutex::new(HashMap::new()),
            runs,
            events_written: watch::channel(0).0,
            stop: watch::channel(false).0,
            supervisor: Mutex::new(None),
        }
    }

    fn app_lock(&self, app: &str) -> Arc<tokio::sync::Mutex<()>> {
        self.app_locks
            .lock()
            .unwrap()
            .entry(app.to_string())
            .or_default()
            .clone()
    }
}

/// A deploy to start: a request, a rollback or a secrets change.
pub struct DeployInput {
    pub request: CreateDeployRequest,
    pub description: String,
}

/// A deploy [`ControlPlane::check_deploy`] accepted, to hand to
/// [`ControlPlane::queue_deploy`].
pub struct CheckedDeploy {
    app: String,
    req: CreateDeployRequest,
    description: String,
    config: hangar_config::Config,
    strategy: Strategy,
    max_unavailable: f64,
    wait_timeout: Duration,
    release_command_timeout: Duration,
}

fn bad_config(text: String) -> HttpError {
    HttpError::bad_request(format!(
        "the app config is not valid; fix these and deploy again (check locally with `hangar config validate`):\n{text}"
    ))
}

impl ControlPlane {
    /// Turns on deploys, releases and secrets, and resumes the deploys a
    /// previous run left unfinished. Deploys run under one supervisor task
    /// until [`ControlPlane::stop_workflow`].
    pub fn enable_workflow(self: &Arc<Self>, vault: Arc<SecretVault>) {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let workflow = Arc::new(Workflow::new(vault, tx));
        if self.workflow.set(workflow.clone()).is_err() {
            return;
        }
        let mut stop = workflow.stop.subscribe();
        let cp = self.clone();
        let supervisor = tokio::spawn(async move {
            if let Err(err) = cp.resume_deploys().await {
                tracing::error!(error = %err.body.error, "cannot resume deploys");
            }
            let mut running = JoinSet::new();
            loop {
                tokio::select! {
                    next = rx.recv() => match next {
                        Some((app, id)) => {
                            running.spawn(cp.clone().run_deploy(app, id));
                        }
                        None => break,
                    },
                    Some(_) = running.join_next(), if !running.is_empty() => {}
                    _ = stop.changed() => break,
                }
            }
            running.shutdown().await;
        });
        *workflow.supervisor.lock().unwrap() = Some(supervisor);
    }

    /// Stops every deploy task and waits until they are gone (they resume
    /// from the store on the next start). Call before stopping the agent.
    pub async fn stop_workflow(&self) {
        let Some(workflow) = self.workflow.get() else {
            return;
        };
        workflow.stop.send_replace(true);
        let supervisor = workflow.supervisor.lock().unwrap().take();
        if let Some(supervisor) = supervisor {
            let _ = supervisor.await;
        }
    }

    /// The workflow parts, or 503 when this control plane runs without them.
    pub fn workflow(&self) -> HttpResult<&Arc<Workflow>> {
        self.workflow.get().ok_or_else(|| {
            HttpError::new(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "deploys, releases and secrets are not enabled on this control plane",
            )
        })
    }

    /// Validates and queues a deploy; the controller runs it in the background.
    pub async fn create_deploy(
        self: &Arc<Self>,
        app: &str,
        input: DeployInput,
    ) -> HttpResult<Deployment> {
        let checked = self.check_deploy(app, input).await?;
        self.queue_deploy(checked).await
    }

    /// Everything [`ControlPlane::create_deploy`] checks before it records
    /// anything: the app, fly.toml, the strategy and the settings. A refused
    /// deploy is an error here; nothing is stored either way, so a caller
    /// can check a deploy before a change it must not make unless the
    /// deploy is accepted (a secrets change and its restart).
    pub async fn check_deploy(&self, app: &str, input: DeployInput) -> HttpResult<CheckedDeploy> {
        self.app(app).await?;
        self.workflow()?;
        let mut req = input.request;
        if req.restart_only && (req.image.is_empty() || req.fly_toml.is_empty()) {
            let latest = self
                .releases(app)
                .await?
                .into_iter()
                .next()
                .ok_or_else(|| {
                    HttpError::bad_request(format!(
                    "app {app:?} has no release to restart; deploy it first with `hangar deploy`"
                ))
                })?;
            req.image = latest.release.image;
            req.fly_toml = latest.fly_toml;
        }
        if req.image.trim().is_empty() {
            return Err(HttpError::bad_request(
                "image is required: name the image to deploy (hangar deploy --image REF)",
            ));
        }
        let path = std::path::PathBuf::from(req.config_path.as_deref().unwrap_or("fly.toml"));
        let loaded = match hangar_config::load_str(&req.fly_toml, Format::Toml, Some(&path)) {
            Ok(loaded) => loaded,
            Err(LoadError::Syntax(d)) => return Err(bad_config(d.to_string())),
            Err(e) => return Err(bad_config(e.to_string())),
        };
        // A strategy in the request replaces fly.toml's: what fly.toml says
        // of its own (unused) strategy is no reason to refuse the deploy.
        let errors: Vec<String> = loaded
            .check()
            .into_iter()
            .filter(|d| d.is_error())
            .filter(|d| req.strategy.is_none() || d.key != "deploy.strategy")
            .map(|d| d.to_string())
            .collect();
        if !errors.is_empty() {
            return Err(bad_config(errors.join("\n")));
        }
        let config = loaded.config;
        let mut group_configs = Vec::new();
        for group in config.process_names() {
            match config.to_machine_config(&group, None) {
                Ok(machine) => group_configs.push((group, machine)),
                Err(e) => return Err(bad_config(e.to_string())),
            }
        }
        let deploy = config.deploy.clone().unwrap_or_default();
        let (strategy_name, strategy_source) = match (&req.strategy, &deploy.strategy) {
            (Some(name), _) => (name.clone(), StrategySource::Request),
            (None, Some(name)) => (name.clone(), StrategySource::FlyToml),
            (None, None) => ("rolling".to_string(), StrategySource::FlyToml),
        };
        let strategy = Strategy::parse(&strategy_name).ok_or_else(|| {
            HttpError::bad_request(format!(
                "unknown deploy strategy {strategy_name:?}: use rolling, immediate, canary or bluegreen"
            ))
        })?;
        check_strategy(strategy, strategy_source, &group_configs)
            .map_err(HttpError::bad_request)?;
        let max_unavailable = req
            .max_unavailable
            .or(deploy.max_unavailable)
            .unwrap_or(DEFAULT_MAX_UNAVAILABLE);
        if max_unavailable <= 0.0 {
            return Err(HttpError::bad_request(
                "max_unavailable must be above 0: a count (≥1) or a fraction (0 to 1)",
            ));
        }
        let wait_timeout = req
            .wait_timeout
            .map(|d| d.0)
            .or(deploy.wait_timeout.map(|d| d.to_std()))
            .unwrap_or(DEFAULT_TIMEOUT);
        let release_command_timeout = deploy
            .release_command_timeout
            .map(|d| d.to_std())
            .unwrap_or(DEFAULT_TIMEOUT);
        Ok(CheckedDeploy {
            app: app.to_string(),
            req,
            description: input.description,
            config,
            strategy,
            max_unavailable,
            wait_timeout,
            release_command_timeout,
        })
    }

    /// Records a checked deploy (release N, `pending`; the deploy,
    /// `queued`) and hands it to the controller.
    pub async fn queue_deploy(self: &Arc<Self>, checked: CheckedDeploy) -> HttpResult<Deployment> {
        let CheckedDeploy {
            app,
            req,
            description,
            config,
            strategy,
            max_unavailable,
            wait_timeout,
            release_command_timeout,
        } = checked;
        let app = app.as_str();
        let workflow = self.workflow()?.clone();
        let previous = self.releases(app).await?.into_iter().next();
        let secrets_version = workflow.vault.version(app).await?;
        let secrets_changed = previous
            .as_ref()
            .is_some_and(|p| p.release.secrets_version != secrets_version);
        let id = format!(
            "dep_{}",
            hangar_types::ids::new_instance_id().to_lowercase()
        );
        let release = self
            .create_release(
                app,
                NewRelease {
                    image: req.image.clone(),
                    config: serde_json::to_value(&config).unwrap_or_default(),
                    fly_toml: req.fly_toml.clone(),
                    secrets_version,
                    author: req.author.clone(),
                    description,
                    deploy_id: id.clone(),
                },
            )
            .await?;
        let now = now_rfc3339();
        let record = DeployRecord {
            deployment: Deployment {
                id: id.clone(),
                app: app.to_string(),
                release_version: release.release.version,
                state: DeployState::Queued,
                strategy: strategy.as_str().to_string(),
                created_at: now.clone(),
                updated_at: now,
                error: None,
            },
            spec: DeploySpec {
                image: req.image,
                fly_toml: req.fly_toml,
                config_path: req.config_path,
                no_rollback: req.no_rollback,
                ha: req.ha.unwrap_or(true),
                wait_timeout_ms: wait_timeout.as_millis() as u64,
                max_unavailable,
                restart_only: req.restart_only,
                release_command_timeout_ms: release_command_timeout.as_millis() as u64,
                secrets_changed,
                secrets_version,
            },
            release_id: release.id,
            phase: Phase::Queued,
            plan: None,
            next_batch: 0,
            next_seq: 1,
        };
        let mut run = Run {
            cp: self.clone(),
            record,
        };
        run.info(
            "queued",
            format!("release v{} queued", release.release.version),
        )
        .await?;
        let deployment = run.record.deployment.clone();
        self.spawn_run(app.to_string(), id);
        Ok(deployment)
    }

    /// Hands a deploy to the supervisor task.
    fn spawn_run(&self, app: String, id: String) {
        if let Ok(workflow) = self.workflow() {
            let _ = workflow.runs.send((app, id));
        }
    }

    /// Runs a deploy once the app's earlier ones are over.
    async fn run_deploy(self: Arc<Self>, app: String, id: String) {
        let Ok(workflow) = self.workflow().cloned() else {
            return;
        };
        let lock = workflow.app_lock(&app);
        let _guard = lock.lock().await;
        let record = match self.deploy_record(&app, &id).await {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(%app, %id, error = %e.body.error, "deploy vanished");
                return;
            }
        };
        if record.is_final() {
            return;
        }
        let mut run = Run { cp: self, record };
        if let Err(e) = run.drive().await {
            tracing::error!(%app, %id, error = %e.body.error, "deploy stopped: the store failed; it resumes on the next start");
        }
    }

    /// Restarts every unfinished deploy, oldest first.
    pub async fn resume_deploys(self: &Arc<Self>) -> HttpResult<()> {
        let mut pending: Vec<DeployRecord> = self
            .store
            .list_json::<DeployRecord>("deploys/")
            .await?
            .into_iter()
            .map(|(_, r, _)| r)
            .filter(|r| !r.is_final())
            .collect();
        pending.sort_by(|a, b| a.deployment.id.cmp(&b.deployment.id));
        for record in pending {
            tracing::info!(app = %record.deployment.app, id = %record.deployment.id, phase = ?record.phase, "resuming deploy");
            self.spawn_run(record.deployment.app, record.deployment.id);
        }
        Ok(())
    }

    async fn deploy_record(&self, app: &str, id: &str) -> HttpResult<DeployRecord> {
        self.store
            .get_json::<DeployRecord>(&record_key(app, id))
            .await?
            .map(|(r, _)| r)
            .ok_or_else(|| {
                HttpError::not_found(format!(
                    "app {app:?} has no deploy {id}; list them with GET /v1/apps/{app}/deploys"
                ))
            })
    }

    /// One deploy.
    pub async fn deploy(&self, app: &str, id: &str) -> HttpResult<Deployment> {
        self.app(app).await?;
        Ok(self.deploy_record(app, id).await?.deployment)
    }

    /// The app's deploys, newest first.
    pub async fn deploys(&self, app: &str) -> HttpResult<Vec<Deployment>> {
        self.app(app).await?;
        let mut all: Vec<Deployment> = self
            .store
            .list_json::<DeployRecord>(&format!("deploys/{app}/"))
            .await?
            .into_iter()
            .map(|(_, r, _)| r.deployment)
            .collect();
        all.sort_by(|a, b| b.id.cmp(&a.id));
        Ok(all)
    }

    /// The deploy's events after `after`, in order.
    async fn events_after(&self, app: &str, id: &str, after: u64) -> HttpResult<Vec<DeployEvent>> {
        let listing = self.store.list(&events_prefix(app, id)).await?;
        Ok(listing
            .kvs
            .iter()
            .filter_map(|kv| serde_json::from_slice::<DeployEvent>(&kv.value).ok())
            .filter(|e| e.seq > after)
            .collect())
    }

    /// The deploy's events after `after`; with `follow`, then the new ones
    /// until its closing `done` event. A follower holds no strong reference
    /// to the control plane: it ends when the control plane stops.
    pub async fn deploy_events(
        self: &Arc<Self>,
        app: &str,
        id: &str,
        after: u64,
        follow: bool,
    ) -> HttpResult<BoxStream<'static, DeployEvent>> {
        self.app(app).await?;
        let written = self.workflow()?.events_written.subscribe();
        // The record is read first: once it is final, its `done` event is
        // already stored and the listing below includes it.
        let finished = self.deploy_record(app, id).await?.is_final();
        let past = self.events_after(app, id, after).await?;
        if !follow || finished || past.iter().any(|e| e.phase == "done") {
            return Ok(stream::iter(past).boxed());
        }
        let last = past.last().map(|e| e.seq).unwrap_or(after);
        let state = (Arc::downgrade(self), written, last, false);
        let (app, id) = (app.to_string(), id.to_string());
        let live = stream::unfold(state, move |(weak, mut written, last, done)| {
            let (app, id) = (app.clone(), id.clone());
            async move {
                if done {
                    return None;
                }
                loop {
                    let cp = weak.upgrade()?;
                    let events = cp.events_after(&app, &id, last).await.ok()?;
                    drop(cp);
                    if let Some(newest) = events.last().map(|e| e.seq) {
                        let done = events.iter().any(|e| e.phase == "done");
                        return Some((stream::iter(events), (weak, written, newest, done)));
                    }
                    // Bounded, so a control plane that went away is noticed.
                    let _ = tokio::time::timeout(FOLLOW_RECHECK, written.changed()).await;
                }
            }
        })
        .flatten();
        Ok(stream::iter(past).chain(live).boxed())
    }
}
