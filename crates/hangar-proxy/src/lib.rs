//! Hangar's edge proxy: takes HTTP for `<app>.<app_domain>`, picks a Machine
//! of that app by Fly Proxy's rules (least loaded, closest region, soft and
//! hard concurrency limits), starts stopped Machines on demand and stops idle
//! ones.
//!
//! The proxy knows nothing of the store or the agent: it reads route table
//! snapshots from a [`tokio::sync::watch`] channel and starts or stops
//! Machines through a [`MachineControl`] supplied by its host.

mod autostart;
mod autostop;
mod balance;
mod body;
mod config;
mod control;
mod error;
mod forward;
mod headers;
mod host;
mod load;
mod metrics;
mod placement;
mod proxy;
mod routes;
mod server;
mod upgrade;

pub use config::ProxyConfig;
pub use control::MachineControl;
pub use error::ProxyErrorCode;
pub use proxy::Proxy;
pub use routes::{MachineRoute, RouteTable};
