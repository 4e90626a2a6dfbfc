//! Hangar's edge proxy: takes HTTP and TLS for `<app>.<app_domain>` (and
//! custom domains, with ACME certificates), picks a Machine of that app by
//! Fly Proxy's rules (least loaded, closest region, soft and hard
//! concurrency limits), starts stopped Machines on demand and stops idle
//! ones.
//!
//! The proxy knows nothing of the store or the agent: it reads route table
//! snapshots from a [`tokio::sync::watch`] channel and starts or stops
//! Machines through a [`MachineControl`] supplied by its host.
//!
//! Wiring it into a host:
//!
//! ```no_run
//! use std::sync::Arc;
//! use hangar_proxy::{CertStore, MachineControl, Proxy, ProxyConfig, RouteTable};
//!
//! struct AgentControl; // calls the agent's start/stop/suspend and waits
//!
//! #[async_trait::async_trait]
//! impl MachineControl for AgentControl {
//!     async fn start(&self, _app: &str, _id: &str) -> Result<(), String> { Ok(()) }
//!     async fn stop(&self, _app: &str, _id: &str) -> Result<(), String> { Ok(()) }
//!     async fn suspend(&self, _app: &str, _id: &str) -> Result<(), String> { Ok(()) }
//! }
//!
//! # async fn wire() -> std::io::Result<()> {
//! // The host keeps `routes_tx` current: a new snapshot (generation + 1)
//! // whenever a Machine's state, address, cordon, checks or config change.
//! let (routes_tx, routes_rx) = tokio::sync::watch::channel(Arc::new(RouteTable::default()));
//! let proxy = Proxy::new(ProxyConfig::default(), routes_rx, Arc::new(AgentControl));
//! let listener = tokio::net::TcpListener::bind("0.0.0.0:8080").await?;
//! let metrics = tokio::net::TcpListener::bind("127.0.0.1:9091").await?;
//! tokio::spawn(proxy.clone().serve_metrics(metrics));
//! let _autostop = proxy.clone().spawn_autostop();
//! // TLS: the SNI name picks an operator certificate (`CertStore::from_dir`)
//! // or a self-signed one made for `<app>.<app_domain>`; services match 443.
//! let tls = tokio::net::TcpListener::bind("0.0.0.0:8443").await?;
//! let certs = Arc::new(CertStore::new());
//! tokio::spawn(proxy.clone().serve_tls(tls, 443, certs.clone()));
//! // Custom domains (`RouteTable::custom_domains`) get ACME certificates
//! // when `ProxyConfig::acme` is set; `Proxy::acme_status` reports them.
//! let _acme = proxy.spawn_acme(certs);
//! // Services are matched on the public port, here 80 even though the
//! // listener is on 8080 (pass 8080 to match `[[services.ports]] port = 8080`).
//! proxy.serve_http(listener, 80).await?;
//! # drop(routes_tx);
//! # Ok(())
//! # }
//! ```

mod acme;
mod acquire;
mod autostart;
mod autostop;
mod balance;
mod body;
mod config;
mod conn;
mod control;
mod dispatch;
mod error;
mod forward;
mod h1;
mod headers;
mod host;
mod load;
mod metrics;
mod placement;
mod pool;
mod proxy;
mod proxy_proto;
mod replay;
mod replay_cache;
mod response_options;
mod routes;
mod server;
mod tcp;
mod tls;
mod upgrade;
mod workers;

pub use acme::{AcmeConfig, AcmeStatus};
pub use config::ProxyConfig;
pub use control::MachineControl;
pub use error::ProxyErrorCode;
pub use proxy::Proxy;
pub use routes::{MachineRoute, RouteTable};
pub use tls::{CertStore, CertStoreError};
