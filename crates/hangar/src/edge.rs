//! Connects the edge proxy to this host's agent: route table snapshots built
//! from the agent's Machines, and Machine starts and stops done by the
//! agent directly (so autostart keeps working without the control plane).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use hangar_agent::Agent;
use hangar_proxy::{MachineControl, RouteTable};
use hangar_server::platform::routes::{MachineRouteRecord, RouteHost, RouteSnapshot};
use hangar_types::MachineState;
use tokio::sync::watch;

use crate::route_state;

/// How long an autostart waits for the Machine to report started.
const START_WAIT: Duration = Duration::from_secs(30);
/// Every event-driven path also has a periodic full rebuild.
const FULL_REBUILD_EVERY: Duration = Duration::from_secs(10);

/// The route table of the agent's Machines at one moment, with the custom
/// domains of the control plane's route state.
pub async fn snapshot(
    agent: &Agent,
    generation: u64,
    custom_domains: &RouteSnapshot,
) -> RouteTable {
    let host = RouteHost {
        region: agent.region().to_string(),
        agent_url: None,
    };
    let records: Vec<MachineRouteRecord> = agent
        .list_all()
        .await
        .iter()
        .filter(|r| r.state != MachineState::Destroyed)
        .map(|r| MachineRouteRecord::from_agent(r, &host))
        .collect();
    let mut table = route_state::route_table(&RouteSnapshot {
        generation: 0,
        machines: records,
        custom_domains: custom_domains.custom_domains.clone(),
    });
    table.generation = generation;
    table
}

/// Route table snapshots kept current from the agent's change
/// announcements, rebuilt in full periodically as well, without custom
/// domains. Each snapshot has a higher generation than the one before.
pub async fn route_snapshots(agent: Arc<Agent>) -> watch::Receiver<Arc<RouteTable>> {
    let (_no_domains, feed) = watch::channel(Arc::new(RouteSnapshot::default()));
    route_snapshots_with_domains(agent, feed).await
}

/// [`route_snapshots`] plus the custom domains of the control plane's route
/// state (`feed`). The agent is asked directly for Machines, so that a
/// Machine is routable as soon as it reports started.
pub async fn route_snapshots_with_domains(
    agent: Arc<Agent>,
    mut feed: watch::Receiver<Arc<RouteSnapshot>>,
) -> watch::Receiver<Arc<RouteTable>> {
    let first = feed.borrow_and_update().clone();
    let (tx, rx) = watch::channel(Arc::new(snapshot(&agent, 1, &first).await));
    let mut changes = agent.subscribe_changes();
    tokio::spawn(async move {
        let mut generation = 1;
        let mut feed_open = true;
        loop {
            tokio::select! {
                changed = changes.changed() => if changed.is_err() { return },
                changed = feed.changed(), if feed_open => feed_open = changed.is_ok(),
                _ = tokio::time::sleep(FULL_REBUILD_EVERY) => {}
                _ = tx.closed() => return,
            }
            generation += 1;
            let domains = feed.borrow_and_update().clone();
            let table = snapshot(&agent, generation, &domains).await;
            if tx.send(Arc::new(table)).is_err() {
                return;
            }
        }
    });
    rx
}

/// Starts and stops Machines for the proxy through the agent.
pub struct AgentControl {
    agent: Arc<Agent>,
}

impl AgentControl {
    pub fn new(agent: Arc<Agent>) -> Arc<Self> {
        Arc::new(AgentControl { agent })
    }

    async fn check_app(&self, app: &str, id: &str) -> Result<(), String> {
        match self.agent.record(id).await {
            Ok(r) if r.app == app => Ok(()),
            _ => Err(format!("machine {id} of app {app} is not on this host")),
        }
    }
}

#[async_trait::async_trait]
impl MachineControl for AgentControl {
    async fn start(&self, app: &str, machine_id: &str) -> Result<(), String> {
        let began = std::time::Instant::now();
        self.check_app(app, machine_id).await?;
        self.agent
            .start(machine_id)
            .await
            .map_err(|e| e.to_string())?;
        let start_returned = began.elapsed();
        let started = self
            .agent
            .wait(machine_id, &[MachineState::Started], None, START_WAIT)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string());
        tracing::debug!(
            %app,
            machine = %machine_id,
            ?start_returned,
            started_seen = ?began.elapsed(),
            "edge autostart through the agent"
        );
        started
    }

    async fn stop(&self, app: &str, machine_id: &str) -> Result<(), String> {
        self.check_app(app, machine_id).await?;
        self.agent
            .stop(machine_id, None, None)
            .await
            .map_err(|e| e.to_string())
    }

    async fn suspend(&self, app: &str, machine_id: &str) -> Result<(), String> {
        self.check_app(app, machine_id).await?;
        self.agent
            .suspend(machine_id)
            .await
            .map_err(|e| e.to_string())
    }
}

/// Keeps one raw TCP listener per (app, public port) that some Machine
/// serves as a raw TCP or `proxy_proto` service, bound on `ip` at the
/// service's own port (as a dedicated IP would be), opening and closing
/// listeners as the route table changes.
pub fn spawn_tcp_listeners(
    proxy: Arc<hangar_proxy::Proxy>,
    mut routes: watch::Receiver<Arc<RouteTable>>,
    ip: IpAddr,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut listening: BTreeMap<(String, u16), tokio::task::JoinHandle<()>> = BTreeMap::new();
        loop {
            let wanted = routes.borrow_and_update().tcp_services();
            listening.retain(|pair, task| {
                let keep = wanted.contains(pair);
                if !keep {
                    task.abort();
                }
                keep
            });
            for (app, port) in wanted {
                if listening.contains_key(&(app.clone(), port)) {
                    continue;
                }
                match tokio::net::TcpListener::bind((ip, port)).await {
                    Ok(listener) => {
                        tracing::info!(%app, port, %ip, "proxy: raw TCP service listening");
                        let proxy = proxy.clone();
                        let served = app.clone();
                        let task = tokio::spawn(async move {
                            if let Err(err) = proxy.serve_tcp(listener, served, port).await {
                                tracing::warn!(%err, "proxy: raw TCP listener stopped");
                            }
                        });
                        listening.insert((app, port), task);
                    }
                    Err(err) => {
                        tracing::warn!(%app, port, %ip, %err, "proxy: cannot listen for a raw TCP service; another app or program holds the port");
                    }
                }
            }
            if routes.changed().await.is_err() {
                break;
            }
        }
        for task in listening.into_values() {
            task.abort();
        }
    })
}
