//! [`Agent`]: the host's Machines, behind the operations the control plane
//! calls.

mod console;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hangar_driver::{Driver, ExecOutput, ExecRequest, Isolation, ProcessInfo};
use hangar_image::ImageStore;
use hangar_store::Store;
use hangar_types::{Machine, MachineConfig, MachineEvent, MachineState, MachineVersion};
use serde_json::json;
use tokio::sync::{mpsc, oneshot, watch, RwLock};

use crate::error::AgentError;
use crate::ledger::Ledger;
use crate::logs::{LogBook, LogLine, Rotation};
use crate::machine::actor::{Command, MachineActor};
use crate::machine::launch;
use crate::machine::lifecycle::{self, Action};
use crate::machine::record::{now_ms, now_rfc3339, MachineRecord};
use crate::network::{Ipam, Subnets};
use crate::secrets::SecretSource;
use crate::shared::{image_ref, Notice, Shared};
use crate::volumes::VolumeStorage;

/// How the agent is set up.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// Logs and volumes live under here.
    pub data_dir: PathBuf,
    pub region: String,
    pub subnets: Subnets,
    pub log_rotation: Rotation,
}

/// A Machine to create.
#[derive(Debug, Clone)]
pub struct NewMachine {
    pub id: String,
    pub app: String,
    pub name: String,
    pub region: String,
    pub config: MachineConfig,
    pub skip_launch: bool,
    pub cordoned: bool,
    /// Refuse to boot with the app's secrets older than this version.
    pub min_secrets_version: Option<u64>,
}

struct MachineHandle {
    commands: mpsc::Sender<Command>,
    view: watch::Receiver<MachineRecord>,
}

/// The agent of one host.
pub struct Agent {
    shared: Arc<Shared>,
    machines: RwLock<HashMap<String, MachineHandle>>,
    ipam: Arc<Mutex<Ipam>>,
    region: String,
}

impl Agent {
    /// Opens the agent: loads the ledger, starts one actor per Machine and
    /// lets each settle into the state it should be in.
    pub async fn open(
        config: AgentConfig,
        driver: Arc<dyn Driver>,
        images: Arc<ImageStore>,
        ledger_store: Arc<dyn Store>,
    ) -> Result<Arc<Agent>, AgentError> {
        Agent::open_with_secrets(
            config,
            driver,
            images,
            ledger_store,
            SecretSource::default(),
        )
        .await
    }

    /// [`Agent::open`] with the source of the apps' secrets, which every
    /// Machine gets in its environment at launch (recovered ones included).
    pub async fn open_with_secrets(
        config: AgentConfig,
        driver: Arc<dyn Driver>,
        images: Arc<ImageStore>,
        ledger_store: Arc<dyn Store>,
        secrets: SecretSource,
    ) -> Result<Arc<Agent>, AgentError> {
        let ledger = Ledger::new(ledger_store);
        let logs =
            LogBook::new(&config.data_dir.join("logs"), config.log_rotation).map_err(|source| {
                AgentError::Volume(crate::volumes::VolumeError::Io {
                    path: config.data_dir.join("logs"),
                    source,
                })
            })?;
        let volumes = VolumeStorage::open(&config.data_dir.join("volumes"))?;
        let isolated = matches!(
            driver.isolation(),
            Isolation::Full | Isolation::Partial { .. }
        );
        let (notices, notice_rx) = mpsc::unbounded_channel();
        let (changes, _) = watch::channel(0u64);
        let shared = Arc::new(Shared {
            driver,
            images,
            ledger: ledger.clone(),
            logs,
            volumes,
            subnets: config.subnets,
            isolated,
            notices,
            changes,
            secrets,
        });
        let mut ipam = Ipam::new(config.subnets);
        let records = ledger.machines().await?;
        for record in &records {
            if record.state != MachineState::Destroyed {
                if let Some(ip) = record.ipv4 {
                    ipam.reserve(ip);
                }
            }
        }
        let agent = Arc::new(Agent {
            shared,
            machines: RwLock::new(HashMap::new()),
            ipam: Arc::new(Mutex::new(ipam)),
            region: config.region,
        });
        {
            let mut machines = agent.machines.write().await;
            for record in records {
                let id = record.id.clone();
                let handle = agent.spawn_actor(record);
                let _ = handle.commands.send(Command::Recover).await;
                machines.insert(id, handle);
            }
        }
        tokio::spawn(notice_loop(Arc::downgrade(&agent), notice_rx));
        Ok(agent)
    }

    fn spawn_actor(&self, record: MachineRecord) -> MachineHandle {
        let (tx, rx) = mpsc::channel(64);
        let (actor, view) = MachineActor::new(self.shared.clone(), record, rx);
        tokio::spawn(actor.run());
        MachineHandle { commands: tx, view }
    }

    /// A receiver whose value changes after every change of any Machine's
    /// record on this host (the value is a change counter).
    pub fn subscribe_changes(&self) -> watch::Receiver<u64> {
        self.shared.changes.subscribe()
    }

    /// How well Machines are isolated on this host.
    pub fn isolation(&self) -> Isolation {
        self.shared.driver.isolation()
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    pub fn volumes(&self) -> &VolumeStorage {
        &self.shared.volumes
    }

    /// Creates a Machine: resolves its image first (a bad reference fails
    /// here and nothing is created), records it, then starts it unless
    /// `skip_launch`.
    pub async fn create(&self, new: NewMachine) -> Result<MachineRecord, AgentError> {
        check_secrets_version(
            &self.shared.secrets,
            &new.id,
            &new.app,
            new.min_secrets_version,
        )?;
        let image = self.shared.images.resolve(&new.config.image).await?;
        let (ipv4, ipv6) = if self.shared.isolated {
            let (v4, v6) = self.ipam.lock().unwrap().allocate()?;
            (Some(v4), Some(v6))
        } else {
            (None, None)
        };
        let now = now_rfc3339();
        let instance_id = hangar_types::ids::new_instance_id();
        let record = MachineRecord {
            id: new.id.clone(),
            app: new.app,
            name: new.name,
            region: new.region,
            instance_id: instance_id.clone(),
            config: new.config.clone(),
            state: MachineState::Created,
            created_at: now.clone(),
            updated_at: now,
            ipv4,
            ipv6,
            image_ref: image_ref(&image),
            cordoned: new.cordoned,
            task: None,
            versions: vec![MachineVersion {
                version: instance_id,
                user_config: new.config,
            }],
            recent_restarts: Vec::new(),
            checks: Vec::new(),
            last_exit: None,
            min_secrets_version: new.min_secrets_version,
        };
        if let Err(err) = launch::validate(&record, &image) {
            if let Some(ip) = ipv4 {
                self.ipam.lock().unwrap().release(ip);
            }
            return Err(err.into());
        }
        let mut event_request = json!({"config_image": record.config.image});
        if !self.shared.isolated {
            event_request["warning"] = json!(format!("{}", self.shared.driver.isolation()));
        }
        let event = MachineEvent {
            id: ulid::Ulid::new().to_string(),
            kind: "launch".into(),
            status: "created".into(),
            source: "user".into(),
            timestamp: now_ms(),
            request: Some(event_request),
        };
        if let Err(err) = self.shared.ledger.save(&record, Some(&event)).await {
            if let Some(ip) = ipv4 {
                self.ipam.lock().unwrap().release(ip);
            }
            return Err(err.into());
        }
        let handle = self.spawn_actor(record.clone());
        let view = handle.view.clone();
        let commands = handle.commands.clone();
        self.machines.write().await.insert(new.id.clone(), handle);
        // A new Machine is a change for host-wide watchers (the route
        // table), even when it is not launched.
        self.shared.announce_change();
        if !new.skip_launch {
            let (reply, rx) = oneshot::channel();
            commands
                .send(Command::Start { reply })
                .await
                .map_err(|_| AgentError::ShuttingDown)?;
            // A failed boot leaves the Machine in `failed`, with the reason in
            // its events; the create itself succeeded.
            let _ = rx.await.map_err(|_| AgentError::ShuttingDown)?;
        }
        let record = view.borrow().clone();
        Ok(record)
    }

    async fn handle(
        &self,
        id: &str,
    ) -> Result<(mpsc::Sender<Command>, watch::Receiver<MachineRecord>), AgentError> {
        let machines = self.machines.read().await;
        let h = machines
            .get(id)
            .ok_or_else(|| AgentError::NotFound(id.to_string()))?;
        Ok((h.commands.clone(), h.view.clone()))
    }

    async fn ask<T>(
        &self,
        id: &str,
        make: impl FnOnce(oneshot::Sender<Result<T, AgentError>>) -> Command,
    ) -> Result<T, AgentError> {
        let (commands, _) = self.handle(id).await?;
        let (reply, rx) = oneshot::channel();
        commands
            .send(make(reply))
            .await
            .map_err(|_| AgentError::ShuttingDown)?;
        rx.await.map_err(|_| AgentError::ShuttingDown)?
    }

    /// A Machine's current record.
    pub async fn record(&self, id: &str) -> Result<MachineRecord, AgentError> {
        let (_, view) = self.handle(id).await?;
        let record = view.borrow().clone();
        Ok(record)
    }

    /// The API view of a Machine, with its events.
    pub async fn machine(&self, id: &str) -> Result<Machine, AgentError> {
        let record = self.record(id).await?;
        let mut machine = record.to_machine();
        machine.events = self.shared.ledger.events(id).await?;
        machine.events.truncate(20);
        Ok(machine)
    }

    /// Every Machine record of an app on this host.
    pub async fn list(&self, app: &str) -> Vec<MachineRecord> {
        let machines = self.machines.read().await;
        let mut records: Vec<MachineRecord> = machines
            .values()
            .map(|h| h.view.borrow().clone())
            .filter(|r| r.app == app)
            .collect();
        records.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        records
    }

    /// Every Machine record on this host.
    pub async fn list_all(&self) -> Vec<MachineRecord> {
        let machines = self.machines.read().await;
        machines.values().map(|h| h.view.borrow().clone()).collect()
    }

    pub async fn start(&self, id: &str) -> Result<MachineState, AgentError> {
        self.ask(id, |reply| Command::Start { reply }).await
    }

    pub async fn stop(
        &self,
        id: &str,
        signal: Option<i32>,
        timeout: Option<Duration>,
    ) -> Result<(), AgentError> {
        self.ask(id, |reply| Command::Stop {
            signal,
            timeout,
            reply,
        })
        .await
    }

    pub async fn suspend(&self, id: &str) -> Result<(), AgentError> {
        self.ask(id, |reply| Command::Suspend { reply }).await
    }

    pub async fn restart(
        &self,
        id: &str,
        signal: Option<i32>,
        timeout: Option<Duration>,
    ) -> Result<(), AgentError> {
        self.ask(id, |reply| Command::Restart {
            signal,
            timeout,
            reply,
        })
        .await
    }

    pub async fn signal(&self, id: &str, signal: i32) -> Result<(), AgentError> {
        self.ask(id, |reply| Command::Signal { signal, reply })
            .await
    }

    /// Replaces a Machine's config (a new version); a running Machine is
    /// restarted on it unless `skip_launch`.
    pub async fn update(
        &self,
        id: &str,
        config: MachineConfig,
        skip_launch: bool,
        min_secrets_version: Option<u64>,
    ) -> Result<MachineRecord, AgentError> {
        let current = self.record(id).await?;
        lifecycle::check(id, current.state, Action::Update)?;
        check_secrets_version(&self.shared.secrets, id, &current.app, min_secrets_version)?;
        let image = self.shared.images.resolve(&config.image).await?;
        let mut candidate = current.clone();
        candidate.config = config.clone();
        launch::validate(&candidate, &image)?;
        self.ask(id, |reply| Command::Update {
            config: Box::new(config),
            image: Box::new(image),
            skip_launch,
            min_secrets_version,
            reply,
        })
        .await
    }

    pub async fn destroy(&self, id: &str, force: bool) -> Result<(), AgentError> {
        self.ask(id, |reply| Command::Destroy { force, reply })
            .await
    }

    /// Removes a destroyed Machine from this host for good: its actor, its
    /// record and its events (an app being deleted). A Machine that is not
    /// destroyed yet is refused.
    pub async fn forget(&self, id: &str) -> Result<(), AgentError> {
        let handle = {
            let mut machines = self.machines.write().await;
            let Some(handle) = machines.get(id) else {
                return Ok(());
            };
            let state = handle.view.borrow().state;
            if state != MachineState::Destroyed {
                return Err(AgentError::WillNotReach {
                    machine_id: id.to_string(),
                    wanted: MachineState::Destroyed.to_string(),
                    current: state.to_string(),
                });
            }
            machines.remove(id)
        };
        if let Some(handle) = handle {
            let (reply, done) = oneshot::channel();
            if handle
                .commands
                .send(Command::Shutdown { reply })
                .await
                .is_ok()
            {
                let _ = done.await;
            }
        }
        self.shared.ledger.forget(id).await?;
        Ok(())
    }

    pub async fn set_cordoned(&self, id: &str, cordoned: bool) -> Result<(), AgentError> {
        self.ask(id, |reply| Command::SetCordoned { cordoned, reply })
            .await
    }

    /// Sets (Some) or deletes (None) one metadata key; no new version.
    pub async fn set_metadata(
        &self,
        id: &str,
        key: String,
        value: Option<String>,
    ) -> Result<(), AgentError> {
        self.ask(id, |reply| Command::SetMetadata { key, value, reply })
            .await
    }

    pub async fn events(&self, id: &str) -> Result<Vec<MachineEvent>, AgentError> {
        self.handle(id).await?;
        Ok(self.shared.ledger.events(id).await?)
    }

    /// Waits until the Machine is in one of `states` (and, if given, at
    /// `instance_id`), at most `timeout`.
    pub async fn wait(
        &self,
        id: &str,
        states: &[MachineState],
        instance_id: Option<&str>,
        timeout: Duration,
    ) -> Result<MachineState, AgentError> {
        let (_, mut view) = self.handle(id).await?;
        if let Some(instance) = instance_id {
            if !view.borrow().versions.iter().any(|v| v.version == instance) {
                return Err(AgentError::UnknownInstance {
                    machine_id: id.to_string(),
                    instance_id: instance.to_string(),
                });
            }
        }
        let reached = |r: &MachineRecord| {
            states.contains(&r.state) && instance_id.is_none_or(|i| i == r.instance_id)
        };
        let outcome = tokio::time::timeout(timeout, async {
            loop {
                {
                    let r = view.borrow_and_update();
                    if reached(&r) {
                        return Ok(r.state);
                    }
                    // A failed or destroyed machine will not move on its own:
                    // answer now instead of at the timeout.
                    if matches!(r.state, MachineState::Failed | MachineState::Destroyed) {
                        return Err(AgentError::WillNotReach {
                            machine_id: id.to_string(),
                            wanted: states
                                .iter()
                                .map(|s| s.as_str())
                                .collect::<Vec<_>>()
                                .join("|"),
                            current: r.state.to_string(),
                        });
                    }
                    if let Some(instance) = instance_id {
                        if r.versions.iter().any(|v| v.version == instance)
                            && r.instance_id != instance
                            && !states.contains(&MachineState::Destroyed)
                        {
                            return Err(AgentError::InstanceReplaced {
                                machine_id: id.to_string(),
                                instance_id: instance.to_string(),
                            });
                        }
                    }
                }
                if view.changed().await.is_err() {
                    return Err(AgentError::ShuttingDown);
                }
            }
        })
        .await;
        match outcome {
            Ok(result) => result,
            Err(_) => Err(AgentError::WaitTimeout {
                machine_id: id.to_string(),
                wanted: states
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join("|"),
                current: view.borrow().state.to_string(),
                timeout_secs: timeout.as_secs(),
            }),
        }
    }

    /// The task of a started Machine and the environment its commands run
    /// with (the boot environment, secrets included): what `exec` and
    /// `console` start a command with.
    pub(crate) async fn exec_target(
        &self,
        id: &str,
    ) -> Result<(hangar_driver::TaskHandle, Vec<(String, String)>), AgentError> {
        let record = self.record(id).await?;
        lifecycle::check(id, record.state, Action::Exec)?;
        let task = record
            .task
            .clone()
            .ok_or_else(|| AgentError::NotFound(id.to_string()))?;
        let image = self.shared.images.resolve(&record.config.image).await?;
        let secrets = self.shared.secrets.resolve(&record.app);
        Ok((task, launch::environment(&record, &image, &secrets)))
    }

    /// Runs a command inside a started Machine.
    pub async fn exec(
        &self,
        id: &str,
        argv: Vec<String>,
        timeout: Duration,
        stdin: Option<Vec<u8>>,
    ) -> Result<ExecOutput, AgentError> {
        let (task, env) = self.exec_target(id).await?;
        Ok(self
            .shared
            .driver
            .exec(
                &task,
                ExecRequest {
                    argv,
                    timeout,
                    stdin,
                    env,
                },
            )
            .await?)
    }

    /// The processes inside a started Machine.
    pub async fn ps(&self, id: &str) -> Result<Vec<ProcessInfo>, AgentError> {
        let record = self.record(id).await?;
        lifecycle::check(id, record.state, Action::Exec)?;
        let task = record
            .task
            .ok_or_else(|| AgentError::NotFound(id.to_string()))?;
        Ok(self.shared.driver.ps(&task).await?)
    }

    /// The last `tail` log lines of a Machine and, if `follow`, a receiver of
    /// the lines that come after.
    pub async fn logs(
        &self,
        id: &str,
        tail: usize,
    ) -> Result<(Vec<LogLine>, tokio::sync::broadcast::Receiver<LogLine>), AgentError> {
        self.handle(id).await?;
        let log = self.shared.logs.machine(id);
        let rx = log.subscribe();
        Ok((log.read_tail(tail), rx))
    }

    /// Stops every Machine's actor: running tasks are killed and their host
    /// resources (mounts, cgroups, network) freed, while each Machine keeps
    /// its recorded state, so the next [`Agent::open`] brings it back.
    pub async fn shutdown(&self) {
        let handles: Vec<MachineHandle> = self
            .machines
            .write()
            .await
            .drain()
            .map(|(_, h)| h)
            .collect();
        for handle in handles {
            let (reply, done) = oneshot::channel();
            if handle
                .commands
                .send(Command::Shutdown { reply })
                .await
                .is_ok()
            {
                let _ = done.await;
            }
        }
    }
}

/// Refuses a Machine whose `min_secrets_version` is above the version of
/// its app's secrets.
pub(crate) fn check_secrets_version(
    secrets: &crate::secrets::SecretSource,
    machine_id: &str,
    app: &str,
    min: Option<u64>,
) -> Result<(), AgentError> {
    let current = secrets.version(app);
    match min {
        Some(min) if current < min => Err(AgentError::SecretsTooOld {
            machine_id: machine_id.to_string(),
            min,
            current,
        }),
        _ => Ok(()),
    }
}

async fn notice_loop(agent: std::sync::Weak<Agent>, mut notices: mpsc::UnboundedReceiver<Notice>) {
    while let Some(notice) = notices.recv().await {
        let Some(agent) = agent.upgrade() else {
            return;
        };
        match notice {
            Notice::AddressFree(ip) => agent.ipam.lock().unwrap().release(ip),
            Notice::Failed(failed) => {
                let machines = agent.machines.read().await;
                for handle in machines.values() {
                    let stands_by = handle.view.borrow().config.standbys.contains(&failed);
                    if stands_by {
                        let _ = handle
                            .commands
                            .send(Command::StandbyFor {
                                failed: failed.clone(),
                            })
                            .await;
                    }
                }
            }
        }
    }
}
