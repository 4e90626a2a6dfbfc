//! Connects the edge proxy to this host's agent: route table snapshots built
//! from the agent's Machines, and Machine starts and stops done by the
//! agent directly (so autostart keeps working without the control plane).

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use hangar_agent::{Agent, MachineRecord};
use hangar_proxy::{MachineControl, MachineRoute, RouteTable};
use hangar_types::MachineState;
use tokio::sync::watch;

/// How long an autostart waits for the Machine to report started.
const START_WAIT: Duration = Duration::from_secs(30);
/// Every event-driven path also has a periodic full rebuild.
const FULL_REBUILD_EVERY: Duration = Duration::from_secs(10);

/// Whether the Machine's service checks all pass (no service checks: yes).
fn service_checks_pass(record: &MachineRecord) -> bool {
    record
        .checks
        .iter()
        .filter(|c| c.name.starts_with("servicecheck-"))
        .all(|c| c.status == "passing")
}

fn route_of(record: &MachineRecord) -> MachineRoute {
    MachineRoute {
        id: record.id.clone(),
        app: record.app.clone(),
        region: record.region.clone(),
        state: record.state,
        address: record
            .ipv4
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        cordoned: record.cordoned,
        checks_passing: service_checks_pass(record),
        services: record.config.services.clone(),
    }
}

/// The route table of the agent's Machines at one moment.
pub async fn snapshot(agent: &Agent, generation: u64) -> RouteTable {
    let records: Vec<MachineRecord> = agent
        .list_all()
        .await
        .into_iter()
        .filter(|r| r.state != MachineState::Destroyed)
        .collect();
    let mut table = RouteTable::new(generation, records.iter().map(route_of).collect());
    let primary: BTreeMap<String, String> = records
        .iter()
        .filter_map(|r| {
            r.config
                .env
                .get("PRIMARY_REGION")
                .map(|p| (r.app.clone(), p.clone()))
        })
        .collect();
    table.primary_regions = primary;
    table
}

/// Route table snapshots kept current from the agent's change
/// announcements, rebuilt in full periodically as well. Each snapshot has a
/// higher generation than the one before.
pub async fn route_snapshots(agent: Arc<Agent>) -> watch::Receiver<Arc<RouteTable>> {
    let (tx, rx) = watch::channel(Arc::new(snapshot(&agent, 1).await));
    let mut changes = agent.subscribe_changes();
    tokio::spawn(async move {
        let mut generation = 1;
        loop {
            tokio::select! {
                changed = changes.changed() => if changed.is_err() { return },
                _ = tokio::time::sleep(FULL_REBUILD_EVERY) => {}
                _ = tx.closed() => return,
            }
            generation += 1;
            let table = snapshot(&agent, generation).await;
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
        self.check_app(app, machine_id).await?;
        self.agent
            .start(machine_id)
            .await
            .map_err(|e| e.to_string())?;
        self.agent
            .wait(machine_id, &[MachineState::Started], None, START_WAIT)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
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
