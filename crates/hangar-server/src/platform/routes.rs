//! Route state published through the store, for edge proxies that run
//! apart from the control plane.
//!
//! Key layout (JSON values):
//! - `edge/machines/{machine_id}` → [`MachineRouteRecord`]: what a proxy
//!   needs to route to the Machine, plus the host that owns it and the
//!   address of that host's agent (for autostart and autostop).
//! - `edge/certificates/{hostname}` → [`CertificateRecord`]: a custom
//!   domain of an app (see `platform/certificates.rs`).
//!
//! The agent is the source of truth for its Machines; [`ControlPlane::spawn_route_publisher`]
//! copies its records here whenever it announces a change, and in full every
//! few seconds. [`ControlPlane::route_feed`] watches `edge/` and keeps one
//! [`RouteSnapshot`] current whose generation is the store revision of the
//! last change it contains: a newer snapshot always has a greater one.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use hangar_agent::MachineRecord;
use hangar_store::{Op, Revision, Store, StoreError, Txn, WatchEvent, WatchEventKind};
use hangar_types::{MachineService, MachineState};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::platform::certificates::CertificateRecord;
use crate::platform::ControlPlane;

/// Everything route state lives under this prefix.
pub const EDGE_PREFIX: &str = "edge/";
/// One key per Machine: `edge/machines/{machine_id}`.
pub const MACHINE_ROUTES_PREFIX: &str = "edge/machines/";

/// How often the publisher copies every record even without an announcement.
const FULL_RECONCILE_EVERY: Duration = Duration::from_secs(10);
/// How long the feed waits before watching again after the store failed.
const FEED_RETRY: Duration = Duration::from_secs(1);

/// The host that owns a Machine and how to reach its agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteHost {
    pub region: String,
    /// Base URL of the agent's Machine control endpoint
    /// (`POST {agent_url}/agent/v1/machines/{id}/start`), if it serves one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_url: Option<String>,
}

/// A Machine as route state: the fields of the proxy's `MachineRoute`, the
/// app's primary region and the owning host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MachineRouteRecord {
    pub id: String,
    pub app: String,
    pub region: String,
    pub state: MachineState,
    /// Where the Machine's services listen.
    pub address: IpAddr,
    pub cordoned: bool,
    /// False when a service check fails.
    pub checks_passing: bool,
    pub services: Vec<MachineService>,
    /// `PRIMARY_REGION` of the Machine's environment, if set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_region: Option<String>,
    pub host: RouteHost,
}

impl MachineRouteRecord {
    /// The route record of an agent's Machine.
    pub fn from_agent(record: &MachineRecord, host: &RouteHost) -> Self {
        MachineRouteRecord {
            id: record.id.clone(),
            app: record.app.clone(),
            region: record.region.clone(),
            state: record.state,
            address: record
                .ipv4
                .map(IpAddr::V4)
                .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            cordoned: record.cordoned,
            checks_passing: record
                .checks
                .iter()
                .filter(|c| c.name.starts_with("servicecheck-"))
                .all(|c| c.status == "passing"),
            services: record.config.services.clone(),
            primary_region: record.config.env.get("PRIMARY_REGION").cloned(),
            host: host.clone(),
        }
    }
}

/// All route state at one store revision.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RouteSnapshot {
    /// The store revision of the newest change included; receivers ignore
    /// a snapshot older than the one they hold.
    pub generation: Revision,
    pub machines: Vec<MachineRouteRecord>,
    /// Custom hostname → app.
    pub custom_domains: BTreeMap<String, String>,
}

/// One line of the route watch stream (`application/x-ndjson`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RouteStreamEvent {
    /// The full route state at `generation`.
    Snapshot(RouteSnapshot),
    /// Nothing changed; sent periodically so that a receiver notices a dead
    /// connection.
    Heartbeat { generation: Revision },
}

/// The decoded values under `edge/`, by key.
#[derive(Default)]
struct EdgeState {
    machines: BTreeMap<String, MachineRouteRecord>,
    certificates: BTreeMap<String, CertificateRecord>,
}

impl EdgeState {
    fn apply(&mut self, key: &str, value: Option<&[u8]>) {
        if let Some(id) = key.strip_prefix(MACHINE_ROUTES_PREFIX) {
            match value.map(serde_json::from_slice::<MachineRouteRecord>) {
                Some(Ok(record)) => {
                    self.machines.insert(id.to_string(), record);
                }
                Some(Err(err)) => tracing::warn!(%key, %err, "route feed: unreadable record"),
                None => {
                    self.machines.remove(id);
                }
            }
        } else if let Some(host) = key.strip_prefix(crate::platform::certificates::PREFIX) {
            match value.map(serde_json::from_slice::<CertificateRecord>) {
                Some(Ok(record)) => {
                    self.certificates.insert(host.to_string(), record);
                }
                Some(Err(err)) => tracing::warn!(%key, %err, "route feed: unreadable record"),
                None => {
                    self.certificates.remove(host);
                }
            }
        }
    }

    fn snapshot(&self, generation: Revision) -> RouteSnapshot {
        RouteSnapshot {
            generation,
            machines: self.machines.values().cloned().collect(),
            custom_domains: self
                .certificates
                .values()
                .map(|c| (c.hostname.clone(), c.app.clone()))
                .collect(),
        }
    }
}

impl ControlPlane {
    /// Copies the agent's Machines into `edge/machines/` whenever the agent
    /// announces a change and every [`FULL_RECONCILE_EVERY`]. Only changed
    /// records are written (one transaction), and records of this host's
    /// Machines that are gone or destroyed are deleted.
    pub fn spawn_route_publisher(self: &Arc<Self>, host: RouteHost) -> tokio::task::JoinHandle<()> {
        let cp = self.clone();
        tokio::spawn(async move {
            let mut changes = cp.agent.subscribe_changes();
            loop {
                if let Err(err) = cp.publish_routes(&host).await {
                    tracing::warn!(%err, "cannot publish route state; retrying");
                }
                tokio::select! {
                    changed = changes.changed() => if changed.is_err() { return },
                    _ = tokio::time::sleep(FULL_RECONCILE_EVERY) => {}
                }
            }
        })
    }

    /// One reconcile of this host's route records with the agent's.
    async fn publish_routes(&self, host: &RouteHost) -> Result<(), StoreError> {
        let stored = self.store.list(MACHINE_ROUTES_PREFIX).await?;
        let mut stale: BTreeMap<String, Vec<u8>> = BTreeMap::new();
        for kv in stored.kvs {
            let owned = serde_json::from_slice::<MachineRouteRecord>(&kv.value)
                .map(|r| r.host.agent_url == host.agent_url && r.host.region == host.region)
                .unwrap_or(true);
            if owned {
                stale.insert(kv.key, kv.value);
            }
        }
        let mut ops = Vec::new();
        for record in self.agent.list_all().await {
            if record.state == MachineState::Destroyed {
                continue;
            }
            let key = format!("{MACHINE_ROUTES_PREFIX}{}", record.id);
            let value = serde_json::to_vec(&MachineRouteRecord::from_agent(&record, host))
                .map_err(|e| StoreError::Serialization {
                    key: key.clone(),
                    message: e.to_string(),
                })?;
            if stale.remove(&key).as_deref() != Some(value.as_slice()) {
                ops.push(Op::put(key, value));
            }
        }
        ops.extend(stale.into_keys().map(Op::delete));
        if !ops.is_empty() {
            self.store.txn(Txn::new().then(ops)).await?;
        }
        Ok(())
    }

    /// The current route state, kept current by one store watch on `edge/`
    /// (started on first use, ended when the control plane is dropped).
    pub async fn route_feed(&self) -> watch::Receiver<Arc<RouteSnapshot>> {
        self.route_feed
            .get_or_init(|| async {
                let (tx, rx) = watch::channel(Arc::new(RouteSnapshot::default()));
                let store = self.store.clone();
                let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
                tokio::spawn(run_route_feed(store, tx, ready_tx));
                let _ = ready_rx.await;
                rx
            })
            .await
            .clone()
    }
}

/// Keeps `tx` current until every receiver is gone, listing again whenever
/// the watch fails.
async fn run_route_feed(
    store: Arc<dyn Store>,
    tx: watch::Sender<Arc<RouteSnapshot>>,
    ready: tokio::sync::oneshot::Sender<()>,
) {
    let mut ready = Some(ready);
    loop {
        tokio::select! {
            result = follow_edge_state(&store, &tx, &mut ready) => {
                if let Err(err) = result {
                    tracing::warn!(%err, "route feed: store watch failed; listing again");
                }
            }
            _ = tx.closed() => return,
        }
        tokio::time::sleep(FEED_RETRY).await;
    }
}

/// Lists `edge/`, publishes it, then applies every watched change,
/// publishing a snapshot per batch of ready events.
async fn follow_edge_state(
    store: &Arc<dyn Store>,
    tx: &watch::Sender<Arc<RouteSnapshot>>,
    ready: &mut Option<tokio::sync::oneshot::Sender<()>>,
) -> Result<(), StoreError> {
    let listing = store.list(EDGE_PREFIX).await?;
    let mut state = EdgeState::default();
    for kv in &listing.kvs {
        state.apply(&kv.key, Some(&kv.value));
    }
    let mut generation = listing.revision;
    tx.send_replace(Arc::new(state.snapshot(generation)));
    if let Some(ready) = ready.take() {
        let _ = ready.send(());
    }
    let mut events = store.watch(EDGE_PREFIX, listing.revision + 1).await?;
    while let Some(event) = events.next().await {
        apply_event(&mut state, &event?, &mut generation);
        // Every event already delivered joins this snapshot, so that a
        // transaction's writes are published together.
        while let Some(Some(more)) = futures_util::FutureExt::now_or_never(events.next()) {
            apply_event(&mut state, &more?, &mut generation);
        }
        tx.send_replace(Arc::new(state.snapshot(generation)));
    }
    Ok(())
}

fn apply_event(state: &mut EdgeState, event: &WatchEvent, generation: &mut Revision) {
    let value = match event.kind {
        WatchEventKind::Put => Some(event.kv.value.as_slice()),
        WatchEventKind::Delete => None,
    };
    state.apply(&event.kv.key, value);
    *generation = (*generation).max(event.revision());
}
