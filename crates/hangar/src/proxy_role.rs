//! `hangar proxy`: the edge proxy as its own process. It loads the route
//! snapshot it persisted last (so it serves at once, even with the control
//! plane down), then follows the control plane's route stream, starts and
//! stops Machines through their agents' endpoints, and reports how its
//! ACME certificates stand.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use hangar_cli::ProxyArgs;
use hangar_server::platform::routes::RouteSnapshot;
use tokio::sync::watch;

use crate::certificate_report::{load_or_create_proxy_id, CertificateReporter};
use crate::platform::ProxyOptions;
use crate::proxy_host;
use crate::remote_control::RemoteAgentControl;
use crate::route_follow::RouteFollower;
use crate::route_state;

/// The file of the last accepted snapshot, under the state dir.
pub const SNAPSHOT_FILE: &str = "routes.json";

/// A running standalone proxy.
pub struct StandaloneProxy {
    pub started: proxy_host::StartedProxy,
    /// The route state being served.
    pub snapshots: watch::Receiver<Arc<RouteSnapshot>>,
    follower: tokio::task::JoinHandle<()>,
    /// Reports certificate statuses when the proxy runs ACME.
    reporter: Option<tokio::task::JoinHandle<()>>,
}

impl StandaloneProxy {
    /// Stops every listener and the route stream.
    pub fn stop(self) {
        self.follower.abort();
        if let Some(reporter) = self.reporter {
            reporter.abort();
        }
        for task in self.started.tasks {
            task.abort();
        }
    }
}

/// The control plane URL and token from the flags, else the environment and
/// the files `hangar dev` writes.
fn endpoint(args: &ProxyArgs) -> anyhow::Result<(String, String)> {
    let url = match &args.control_plane {
        Some(url) => url.clone(),
        None => hangar_client::discovery::discover_api_url()
            .context("no control plane: pass --control-plane URL")?,
    };
    let token = match args.token.as_deref().map(str::trim) {
        Some(token) if !token.is_empty() => token.to_string(),
        _ => hangar_client::discovery::discover_token()
            .context("no platform token: pass --token or set HANGAR_API_TOKEN")?,
    };
    Ok((url, token))
}

/// Starts the proxy from `args`: persisted routes first, listeners next,
/// then the route stream.
pub async fn start(args: &ProxyArgs) -> anyhow::Result<StandaloneProxy> {
    let (control_plane, token) = endpoint(args)?;
    let state_dir: PathBuf = args
        .state_dir_or_default()
        .context("no state directory: pass --state-dir or set HOME")?;
    std::fs::create_dir_all(&state_dir)
        .with_context(|| format!("cannot create the state directory {}", state_dir.display()))?;
    let state_file = state_dir.join(SNAPSHOT_FILE);
    let persisted = route_state::load(&state_file)?;
    match &persisted {
        Some(s) => tracing::info!(
            generation = s.generation,
            machines = s.machines.len(),
            "serving the persisted route snapshot until the control plane answers"
        ),
        None => tracing::info!("no persisted route snapshot yet; waiting for the control plane"),
    }
    let persisted = persisted.unwrap_or_default();
    let (tables_tx, tables_rx) = watch::channel(Arc::new(route_state::route_table(&persisted)));
    let (snapshots_tx, snapshots_rx) = watch::channel(Arc::new(persisted));
    let control = RemoteAgentControl::new(snapshots_rx.clone(), token.clone())?;
    let options = ProxyOptions {
        listen: args.listen,
        app_domain: args.app_domain.clone(),
        public_port: 80,
        metrics_listen: args.metrics_listen,
        tcp_ip: args.tcp_ip,
        tls_listen: args.tls_listen,
        tls_cert_dir: args.tls_cert_dir.clone(),
        workers: ProxyOptions::workers_or_cpus(args.workers),
    };
    let acme = args
        .acme_directory
        .clone()
        .map(|directory| proxy_host::AcmeOptions {
            directory,
            email: args.acme_email.clone(),
        });
    let started = proxy_host::start(
        &options,
        &args.region,
        &state_dir,
        tables_rx,
        control,
        "--",
        acme.as_ref(),
    )
    .await?;
    let reporter = if acme.is_some() {
        let proxy_id = load_or_create_proxy_id(&state_dir)?;
        tracing::info!(%proxy_id, "reporting certificate statuses to the control plane");
        Some(tokio::spawn(
            CertificateReporter {
                control_plane: control_plane.clone(),
                token: token.clone(),
                proxy_id,
                proxy: started.proxy.clone(),
            }
            .run(),
        ))
    } else {
        None
    };
    let follower = tokio::spawn(
        RouteFollower {
            control_plane,
            token,
            state_file,
            snapshots: snapshots_tx,
            tables: tables_tx,
        }
        .run(),
    );
    Ok(StandaloneProxy {
        started,
        snapshots: snapshots_rx,
        follower,
        reporter,
    })
}
