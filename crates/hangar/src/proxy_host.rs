//! Starting the edge proxy in a host process (`hangar dev` or `hangar
//! proxy`): binds every listener and loads certificates first, so that a
//! failure leaves nothing running, then spawns the servers.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use hangar_proxy::{MachineControl, RouteTable};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::platform::ProxyOptions;

/// Certificates for custom domains by ACME.
#[derive(Debug, Clone)]
pub struct AcmeOptions {
    /// The ACME directory URL.
    pub directory: String,
    /// Contact email of the ACME account.
    pub email: Option<String>,
}

/// A running proxy's addresses and tasks.
pub struct StartedProxy {
    pub proxy: Arc<hangar_proxy::Proxy>,
    pub http: SocketAddr,
    pub tls: Option<SocketAddr>,
    pub metrics: Option<SocketAddr>,
    pub tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// Binds `addr`, naming what for and which flag moves it on failure.
pub async fn bind(addr: SocketAddr, what: &str, flag: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr} for {what} (pass {flag})"))
}

/// Runs a server until it ends, logging why if it fails.
pub fn spawn_server(
    what: &'static str,
    server: impl std::future::Future<Output = std::io::Result<()>> + Send + 'static,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        if let Err(err) = server.await {
            tracing::error!(%err, "{what} stopped");
        }
    })
}

/// Starts the proxy over `routes`, starting and stopping Machines through
/// `control`. `flag_prefix` is how the host's flags begin (`--proxy-` for
/// `hangar dev`, `--` for `hangar proxy`); self-signed certificates are
/// kept under `state_dir/proxy-certs`, ACME ones under `state_dir/acme-certs`.
pub async fn start(
    options: &ProxyOptions,
    region: &str,
    state_dir: &Path,
    routes: watch::Receiver<Arc<RouteTable>>,
    control: Arc<dyn MachineControl>,
    flag_prefix: &str,
    acme: Option<&AcmeOptions>,
) -> anyhow::Result<StartedProxy> {
    let listener = bind(options.listen, "the proxy", &format!("{flag_prefix}listen")).await?;
    let metrics = match options.metrics_listen {
        Some(addr) => Some(
            bind(
                addr,
                "proxy metrics",
                &format!("{flag_prefix}metrics-listen"),
            )
            .await?,
        ),
        None => None,
    };
    let tls = match options.tls_listen {
        Some(addr) => {
            let certs = match &options.tls_cert_dir {
                Some(dir) => hangar_proxy::CertStore::from_dir(dir).with_context(|| {
                    format!("cannot load the certificates in {}", dir.display())
                })?,
                None => hangar_proxy::CertStore::new(),
            }
            .with_self_signed_dir(state_dir.join("proxy-certs"));
            Some((
                bind(addr, "TLS", &format!("{flag_prefix}tls-listen")).await?,
                Arc::new(certs),
            ))
        }
        None => None,
    };
    let http = listener.local_addr()?;
    let tls_addr = match &tls {
        Some((l, _)) => Some(l.local_addr()?),
        None => None,
    };
    let metrics_addr = match &metrics {
        Some(l) => Some(l.local_addr()?),
        None => None,
    };

    let config = hangar_proxy::ProxyConfig {
        app_domain: options.app_domain.clone(),
        region: region.to_string(),
        connection_workers: options.workers,
        acme: acme.map(|acme| hangar_proxy::AcmeConfig {
            contact_email: acme.email.clone(),
            ..hangar_proxy::AcmeConfig::new(&acme.directory, state_dir.join("acme-certs"))
        }),
        ..Default::default()
    };
    let proxy = hangar_proxy::Proxy::new(config, routes.clone(), control);
    let mut tasks = vec![
        spawn_server(
            "proxy",
            proxy.clone().serve_http(listener, options.public_port),
        ),
        proxy.clone().spawn_autostop(),
    ];
    if let Some(ip) = options.tcp_ip {
        tasks.push(crate::edge::spawn_tcp_listeners(proxy.clone(), routes, ip));
    }
    if let Some(metrics) = metrics {
        tasks.push(spawn_server(
            "proxy metrics endpoint",
            proxy.clone().serve_metrics(metrics),
        ));
    }
    let acme_certs = match &tls {
        Some((_, certs)) => certs.clone(),
        None => Arc::new(hangar_proxy::CertStore::new()),
    };
    if let Some(task) = proxy.spawn_acme(acme_certs) {
        tasks.push(task);
    }
    if let Some((listener, certs)) = tls {
        tasks.push(spawn_server(
            "proxy TLS listener",
            proxy.clone().serve_tls(listener, 443, certs),
        ));
    }
    Ok(StartedProxy {
        proxy,
        http,
        tls: tls_addr,
        metrics: metrics_addr,
        tasks,
    })
}

/// How the certificates API words an ACME status.
pub fn acme_status_text(status: &hangar_proxy::AcmeStatus) -> String {
    use hangar_proxy::AcmeStatus;
    match status {
        AcmeStatus::Operator | AcmeStatus::Issued { .. } => "ready".to_string(),
        AcmeStatus::Pending => "pending".to_string(),
        AcmeStatus::Failed { reason } => format!("failed: {reason}"),
    }
}

/// Certificate statuses for the certificates API, from a proxy's ACME
/// manager.
pub struct AcmeStatusSource(pub Arc<hangar_proxy::Proxy>);

impl hangar_server::platform::certificates::CertificateStatusSource for AcmeStatusSource {
    fn status(&self, hostname: &str) -> Option<String> {
        Some(acme_status_text(self.0.acme_status().get(hostname)?))
    }
}
