//! Assembles a single-host platform — store, image store, driver, agent and
//! API — as `hangar dev` runs it and as the test harness boots it.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use hangar_agent::{Agent, AgentConfig, Rotation, Subnets};
use hangar_driver::{Driver, Isolation};
use hangar_driver_docker::{DockerDriver, DockerDriverConfig};
use hangar_driver_process::{MachineAddress, ProcessDriver, ProcessDriverConfig};
use hangar_image::ImageStore;
use hangar_server::platform::routes::RouteHost;
use hangar_server::platform::secrets::SecretVault;
use hangar_server::ControlPlane;
use hangar_store::Store;
use hangar_store_sqlite::SqliteStore;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// How to start a platform.
#[derive(Debug, Clone)]
pub struct PlatformOptions {
    /// Everything persistent lives under here.
    pub data_dir: PathBuf,
    pub api_listen: SocketAddr,
    /// The API token; default: the one saved in the data dir, else a new one.
    pub token: Option<String>,
    pub region: String,
    /// The program the process driver runs as each Machine's init.
    pub init_exe: PathBuf,
    /// Arguments before the init's own (`["machine-init"]` for `hangar`).
    pub init_args: Vec<String>,
    /// The host bridge and Machine subnets.
    pub bridge: String,
    pub subnets: Subnets,
    /// Image sources allowed (empty: any).
    pub allowed_image_sources: Vec<String>,
    /// The edge proxy, if one should run.
    pub proxy: Option<ProxyOptions>,
    /// Which driver runs the Machines.
    pub driver: DriverChoice,
}

/// The driver a platform's agent runs Machines with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DriverChoice {
    /// Namespaced, cgroup-limited processes (isolation detected at start).
    #[default]
    Process,
    /// Docker Engine containers (the daemon must be reachable).
    Docker,
}

/// Where the edge proxy listens and which apps it serves.
#[derive(Debug, Clone)]
pub struct ProxyOptions {
    pub listen: SocketAddr,
    /// Apps answer at `<app>.<app_domain>`.
    pub app_domain: String,
    /// The public port the listener stands for (services match on it).
    pub public_port: u16,
    /// Where the proxy serves Prometheus metrics (`GET /metrics`), if anywhere.
    pub metrics_listen: Option<SocketAddr>,
    /// The address raw TCP services listen on, each at its own port.
    pub tcp_ip: Option<std::net::IpAddr>,
    /// Where the proxy terminates TLS (standing for public port 443), if anywhere.
    pub tls_listen: Option<SocketAddr>,
    /// Operator certificates (`<host>.crt` + `<host>.key`); others are self-signed.
    pub tls_cert_dir: Option<PathBuf>,
    /// Threads serving client connections (`ProxyConfig::connection_workers`).
    pub workers: usize,
}

impl ProxyOptions {
    /// The worker count a `--workers`-style flag asks for: one per CPU
    /// when it is not given.
    pub fn workers_or_cpus(flag: Option<u16>) -> usize {
        flag.map(usize::from).unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
        })
    }
}

/// Extra roles of a platform, beyond what the test harness needs.
#[derive(Debug, Clone, Default)]
pub struct PlatformExtras {
    /// Where the agent serves Machine start/stop for proxies running apart
    /// (`agent_api.rs`); its address goes into the published route state.
    pub agent_listen: Option<SocketAddr>,
    /// Certificates for custom domains by ACME, in the proxy.
    pub acme: Option<crate::proxy_host::AcmeOptions>,
}

/// How often the built-in registry collects unreferenced blobs.
const REGISTRY_GC_INTERVAL: std::time::Duration = std::time::Duration::from_secs(3600);

/// A running platform.
pub struct Platform {
    /// Base URL of the API (`http://127.0.0.1:PORT`).
    pub url: String,
    pub token: String,
    pub data_dir: PathBuf,
    pub agent: Arc<Agent>,
    pub isolation: Isolation,
    /// The built-in OCI registry, served under `/v2/` on the API's address.
    pub registry: Arc<hangar_registry::Registry>,
    /// The edge proxy's address, when it runs.
    pub proxy_addr: Option<SocketAddr>,
    /// The proxy's TLS address, when it terminates TLS.
    pub proxy_tls_addr: Option<SocketAddr>,
    /// The agent's Machine control endpoint, when it runs.
    pub agent_api_addr: Option<SocketAddr>,
    /// The control plane (route state, certificates).
    pub control_plane: Arc<ControlPlane>,
    stop: Option<oneshot::Sender<()>>,
    server: tokio::task::JoinHandle<()>,
    registry_gc: tokio::task::JoinHandle<()>,
    proxy_tasks: Vec<tokio::task::JoinHandle<()>>,
    /// The control-plane store, to see it closed once `stop` let go of it.
    control_store: std::sync::Weak<dyn Store>,
}

/// How long `stop` waits for the last holder of the control-plane store
/// (a task still winding down) to let go of it.
const STORE_CLOSE_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// How often the Docker driver removes loaded images no Machine uses.
const DOCKER_IMAGE_SWEEP_INTERVAL: std::time::Duration = std::time::Duration::from_secs(300);

/// Sets up the driver `options.driver` names; the Docker driver is also
/// returned as itself, for its housekeeping. The process driver's bridge is
/// brought to the configured subnets before the agent recovers its Machines
/// (see [`ProcessDriver::prepare_bridge`]), checked against the addresses
/// the Machines in `ledger` hold.
async fn start_driver(
    options: &PlatformOptions,
    data_dir: &Path,
    ledger: &Arc<dyn Store>,
) -> anyhow::Result<(Arc<dyn Driver>, Option<Arc<DockerDriver>>)> {
    if options.driver == DriverChoice::Docker {
        // One owner per data dir: agents sharing a daemon never sweep each other's containers.
        let owner = data_dir
            .canonicalize()
            .unwrap_or_else(|_| data_dir.to_path_buf())
            .display()
            .to_string();
        let config = DockerDriverConfig {
            owner,
            ..DockerDriverConfig::default()
        };
        let driver = Arc::new(
            DockerDriver::connect(config)
                .await
                .context("cannot set up the Docker driver")?,
        );
        return Ok((driver.clone(), Some(driver)));
    }
    let mut driver_config = ProcessDriverConfig::new(data_dir.join("machines"), &options.init_exe);
    driver_config.init_args = options.init_args.clone();
    driver_config.bridge = options.bridge.clone();
    driver_config.gateway4 = options.subnets.gateway4();
    driver_config.subnet4_prefix = options.subnets.ipv4_prefix;
    driver_config.gateway6 = options.subnets.gateway6();
    driver_config.subnet6_prefix = options.subnets.ipv6_prefix;
    let driver = ProcessDriver::new(driver_config).context("cannot set up the process driver")?;
    let machine_addresses = machine_addresses(ledger).await?;
    driver
        .prepare_bridge(&machine_addresses)
        .context("cannot set up the Machines' bridge")?;
    Ok((Arc::new(driver), None))
}

/// Every private address the agent's Machines (destroyed ones aside) hold.
async fn machine_addresses(ledger: &Arc<dyn Store>) -> anyhow::Result<Vec<MachineAddress>> {
    let records = hangar_agent::ledger::Ledger::new(ledger.clone())
        .machines()
        .await
        .context("cannot read the agent's Machines")?;
    Ok(records
        .into_iter()
        .filter(|r| r.state != hangar_types::MachineState::Destroyed)
        .flat_map(|r| {
            let addresses = [r.ipv4.map(IpAddr::from), r.ipv6.map(IpAddr::from)];
            addresses
                .into_iter()
                .flatten()
                .map(move |ip| MachineAddress {
                    machine_id: r.id.clone(),
                    ip,
                })
        })
        .collect())
}

/// The IDs of the agent's Machines in any state but destroyed (none once it is gone).
async fn live_machine_ids(agent: std::sync::Weak<Agent>) -> std::collections::HashSet<String> {
    let Some(agent) = agent.upgrade() else {
        return Default::default();
    };
    agent
        .list_all()
        .await
        .into_iter()
        .filter(|r| r.state != hangar_types::MachineState::Destroyed)
        .map(|r| r.id)
        .collect()
}

/// The Docker driver's housekeeping: leftover containers of Machines the
/// agent does not have go now, unused images periodically.
async fn docker_housekeeping(
    docker: &Arc<DockerDriver>,
    agent: &Arc<Agent>,
) -> tokio::task::JoinHandle<()> {
    let weak = Arc::downgrade(agent);
    if let Err(err) = docker
        .remove_unknown_containers(|| live_machine_ids(weak.clone()))
        .await
    {
        tracing::warn!(%err, "cannot sweep leftover Docker containers");
    }
    docker.spawn_image_sweeper(DOCKER_IMAGE_SWEEP_INTERVAL, move || {
        live_machine_ids(weak.clone())
    })
}

/// Answers the built-in registry's "does this app exist?" from the control plane.
struct ControlPlaneApps(std::sync::Weak<ControlPlane>);

#[async_trait::async_trait]
impl hangar_registry::AppDirectory for ControlPlaneApps {
    async fn app_exists(&self, app: &str) -> Result<bool, String> {
        let control_plane = self.0.upgrade().ok_or("the control plane has stopped")?;
        match control_plane.app(app).await {
            Ok(_) => Ok(true),
            Err(err) if err.status == axum::http::StatusCode::NOT_FOUND => Ok(false),
            Err(err) => Err(err.body.error),
        }
    }
}

/// Reads the saved token or makes (and saves, mode 0600) a new one.
fn load_or_create_token(data_dir: &Path, given: Option<String>) -> anyhow::Result<String> {
    let path = data_dir.join("token");
    let token = match given {
        Some(t) if !t.trim().is_empty() => t.trim().to_string(),
        _ => match std::fs::read_to_string(&path) {
            Ok(t) if !t.trim().is_empty() => t.trim().to_string(),
            _ => {
                let bytes: [u8; 24] = rand::random();
                format!("hgr_{}", hex::encode(bytes))
            }
        },
    };
    write_private(&path, &token)?;
    Ok(token)
}

fn write_private(path: &Path, content: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.write_all(content.as_bytes())?;
    Ok(())
}

impl Platform {
    /// Opens the stores, probes the driver, recovers the agent's Machines and
    /// starts serving the API.
    pub async fn start(options: PlatformOptions) -> anyhow::Result<Platform> {
        Platform::start_with(options, PlatformExtras::default()).await
    }

    /// [`Platform::start`], plus the extra roles asked for. The route state
    /// is published to the store in any case.
    pub async fn start_with(
        options: PlatformOptions,
        extras: PlatformExtras,
    ) -> anyhow::Result<Platform> {
        let data_dir = &options.data_dir;
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("cannot create the data directory {}", data_dir.display()))?;
        let token = load_or_create_token(data_dir, options.token.clone())?;
        let control_store: Arc<dyn Store> = Arc::new(
            SqliteStore::open(&data_dir.join("control-plane.db"))
                .context("cannot open the control plane store")?,
        );
        let ledger: Arc<dyn Store> = Arc::new(
            SqliteStore::open(&data_dir.join("agent-ledger.db"))
                .context("cannot open the agent ledger")?,
        );
        // The API's address is known first: the built-in registry is served
        // on it, and it is always an allowed image source.
        let listener = TcpListener::bind(options.api_listen)
            .await
            .with_context(|| {
                format!(
                    "cannot listen on {} (is another `hangar dev` running? pass --api-listen)",
                    options.api_listen
                )
            })?;
        let addr = listener.local_addr()?;
        let builtin_registry = [addr.to_string(), format!("localhost:{}", addr.port())];
        let mut images =
            ImageStore::open(&data_dir.join("images")).context("cannot open the image store")?;
        if !options.allowed_image_sources.is_empty() {
            let mut allowed = options.allowed_image_sources.clone();
            allowed.extend(builtin_registry.iter().cloned());
            images = images.restrict_sources(allowed);
        }
        let images = Arc::new(images);
        let registry_images = images.clone();
        let registry = hangar_registry::Registry::open(
            hangar_registry::RegistryConfig::new(data_dir.join("registry"), token.clone()),
            control_store.clone(),
        )
        .context("cannot open the built-in registry")?;
        let (driver, docker_driver) = start_driver(&options, data_dir, &ledger).await?;
        let isolation = driver.isolation();
        let secrets = SecretVault::open(data_dir, control_store.clone())
            .await
            .context("cannot open the secrets vault")?;
        let agent = Agent::open_with_secrets(
            AgentConfig {
                data_dir: data_dir.join("agent"),
                region: options.region.clone(),
                subnets: options.subnets,
                log_rotation: Rotation::default(),
            },
            driver,
            images,
            ledger,
            secrets.source(),
        )
        .await
        .context("cannot open the agent")?;
        let control_store_ref = Arc::downgrade(&control_store);
        let control_plane = ControlPlane::new(control_store, agent.clone(), token.clone());
        control_plane.enable_workflow(secrets);
        registry.check_apps_with(Arc::new(ControlPlaneApps(Arc::downgrade(&control_plane))));
        let mut proxy_tasks = Vec::new();
        if let Some(docker) = &docker_driver {
            proxy_tasks.push(docker_housekeeping(docker, &agent).await);
        }
        let agent_api_addr = match extras.agent_listen {
            Some(addr) => {
                let listener =
                    crate::proxy_host::bind(addr, "the agent's endpoint", "--agent-listen").await?;
                let addr = listener.local_addr()?;
                let app = crate::agent_api::router(agent.clone(), token.clone());
                proxy_tasks.push(tokio::spawn(async move {
                    if let Err(err) = axum::serve(listener, app).await {
                        tracing::error!(%err, "agent endpoint stopped");
                    }
                }));
                Some(addr)
            }
            None => None,
        };
        proxy_tasks.push(control_plane.spawn_route_publisher(RouteHost {
            region: options.region.clone(),
            agent_url: agent_api_addr.map(|a| format!("http://{a}")),
        }));
        let url = format!("http://{addr}");
        std::fs::write(data_dir.join("api-url"), &url)?;
        let (stop, stopped) = oneshot::channel::<()>();
        let app = hangar_server::router(control_plane.clone());
        // The built-in registry shares the API's address (`/v2/`); the agent
        // pulls from it with the platform token.
        let app = app.merge(registry.router());
        for host in &builtin_registry {
            registry_images.add_registry_login(host, "hangar", &token);
        }
        let registry_gc = registry.spawn_gc(REGISTRY_GC_INTERVAL);
        let server = tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
                let _ = stopped.await;
            });
            if let Err(err) = serve.await {
                tracing::error!(%err, "API server failed");
            }
        });
        let (proxy_addr, proxy_tls_addr) = match &options.proxy {
            Some(proxy) => {
                let feed = control_plane.route_feed().await;
                let routes = crate::edge::route_snapshots_with_domains(agent.clone(), feed).await;
                let started = crate::proxy_host::start(
                    proxy,
                    &options.region,
                    data_dir,
                    routes,
                    crate::edge::AgentControl::new(agent.clone()),
                    "--proxy-",
                    extras.acme.as_ref(),
                )
                .await?;
                control_plane.set_certificate_status_source(Arc::new(
                    crate::proxy_host::AcmeStatusSource(started.proxy.clone()),
                ));
                proxy_tasks.extend(started.tasks);
                (Some(started.http), started.tls)
            }
            None => (None, None),
        };
        Ok(Platform {
            url,
            token,
            data_dir: options.data_dir,
            agent,
            isolation,
            registry,
            registry_gc,
            proxy_addr,
            proxy_tls_addr,
            agent_api_addr,
            control_plane,
            stop: Some(stop),
            server,
            proxy_tasks,
            control_store: control_store_ref,
        })
    }

    /// Stops serving the API and the proxy (Machines keep their persisted
    /// state).
    pub async fn stop(mut self) {
        // Deploys stop first (they resume from the store on the next start).
        self.control_plane.stop_workflow().await;
        // Aborted tasks are awaited so that everything they hold (the
        // store among it) is released before `stop` returns: a platform
        // booted next on the same data dir must find the store closed.
        self.registry_gc.abort();
        let _ = (&mut self.registry_gc).await;
        for task in self.proxy_tasks.drain(..) {
            task.abort();
            let _ = task.await;
        }
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        // Open requests (followed logs, long waits) get a moment to finish;
        // then the server is stopped regardless.
        if tokio::time::timeout(std::time::Duration::from_secs(5), &mut self.server)
            .await
            .is_err()
        {
            self.server.abort();
            let _ = (&mut self.server).await;
        }
        self.agent.shutdown().await;
        // The store closes (and its file lock goes) when its last holder
        // is gone; tasks that noticed the stop may still be unwinding.
        let store = self.control_store.clone();
        drop(self);
        let deadline = tokio::time::Instant::now() + STORE_CLOSE_WAIT;
        while store.strong_count() > 0 {
            if tokio::time::Instant::now() > deadline {
                tracing::warn!(
                    holders = store.strong_count(),
                    "the control-plane store is still held {STORE_CLOSE_WAIT:?} after stop; \
                     a platform opened next on this data dir will find it locked"
                );
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }
}
