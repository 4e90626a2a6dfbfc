//! The control plane's logic, between the HTTP handlers and the store:
//! handlers never touch the store directly.

pub mod apps;
pub mod certificate_reports;
pub mod certificates;
pub mod deploy;
pub mod leases;
pub mod machines;
pub mod releases;
pub mod routes;
pub mod secrets;
pub mod volumes;

use std::sync::Arc;

use hangar_agent::Agent;
use hangar_store::Store;

/// The control plane: its store and the agents it drives (one in `hangar dev`).
pub struct ControlPlane {
    pub store: Arc<dyn Store>,
    pub agent: Arc<Agent>,
    /// The bearer token every API request must carry.
    pub token: String,
    /// Route state for proxies (`routes.rs`), started on first use.
    route_feed: tokio::sync::OnceCell<tokio::sync::watch::Receiver<Arc<routes::RouteSnapshot>>>,
    /// Where certificate statuses come from, if a proxy runs beside us.
    certificate_status: std::sync::OnceLock<Arc<dyn certificates::CertificateStatusSource>>,
    /// Deploys, releases and secrets (`enable_workflow`).
    workflow: std::sync::OnceLock<Arc<deploy::Workflow>>,
}

impl ControlPlane {
    pub fn new(store: Arc<dyn Store>, agent: Arc<Agent>, token: String) -> Arc<Self> {
        Arc::new(ControlPlane {
            store,
            agent,
            token,
            route_feed: tokio::sync::OnceCell::new(),
            certificate_status: std::sync::OnceLock::new(),
            workflow: std::sync::OnceLock::new(),
        })
    }

    /// Regions with a host.
    pub fn regions(&self) -> Vec<String> {
        vec![self.agent.region().to_string()]
    }
}

/// Now, RFC 3339.
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

/// Now, unix seconds.
pub fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
