//! The test environment: real backend HTTP servers standing for Machines, a
//! route table published through a watch channel, and a `MachineControl`
//! that starts and stops those backends and updates the table.

#![allow(dead_code)]

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use hangar_proxy::{MachineControl, MachineRoute, Proxy, ProxyConfig, RouteTable};
use hangar_types::{AutostopMode, MachinePort, MachineService, MachineState, ServiceConcurrency};
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinHandle;

/// The public port the proxy serves in tests.
pub const PUBLIC_PORT: u16 = 80;
/// Bound on every wait in the tests.
pub const WAIT: Duration = Duration::from_secs(10);

/// Waits until `condition` holds, failing the test after [`WAIT`].
pub async fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !condition() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {WAIT:?} waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A real HTTP server standing for one Machine. `/slow…` requests wait for
/// the gate; every response names the Machine and echoes the request headers.
pub struct Backend {
    pub id: String,
    pub addr: SocketAddr,
    /// `/slow` requests currently held.
    pub in_flight: Arc<AtomicUsize>,
    /// Requests answered.
    pub hits: Arc<AtomicUsize>,
    /// TCP connections accepted.
    pub accepted: Arc<AtomicUsize>,
    gate: Arc<Semaphore>,
    listener: Mutex<Option<TcpListener>>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Backend {
    /// Binds a port; serves only once [`Backend::serve`] is called.
    pub async fn bind(id: &str) -> Arc<Backend> {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        Arc::new(Backend {
            id: id.to_string(),
            addr: listener.local_addr().unwrap(),
            in_flight: Arc::default(),
            hits: Arc::default(),
            accepted: Arc::default(),
            gate: Arc::new(Semaphore::new(0)),
            listener: Mutex::new(Some(listener)),
            task: Mutex::new(None),
        })
    }

    /// Binds and serves at once.
    pub async fn start(id: &str) -> Arc<Backend> {
        let backend = Backend::bind(id).await;
        backend.serve().await;
        backend
    }

    /// Lets `n` held `/slow` requests finish.
    pub fn release(&self, n: usize) {
        self.gate.add_permits(n);
    }

    /// Starts answering (rebinding the port if it was stopped).
    pub async fn serve(self: &Arc<Self>) {
        let taken = self.listener.lock().unwrap().take();
        let listener = match taken {
            Some(l) => l,
            None => TcpListener::bind(self.addr).await.unwrap(),
        };
        let backend = self.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                backend.accepted.fetch_add(1, Ordering::SeqCst);
                let backend = backend.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request: Request<hyper::body::Incoming>| {
                        let backend = backend.clone();
                        async move { Ok::<_, Infallible>(backend.answer(request).await) }
                    });
                    let _ = auto::Builder::new(TokioExecutor::new())
                        .serve_connection_with_upgrades(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        *self.task.lock().unwrap() = Some(task);
    }

    /// Stops answering and closes the port.
    pub fn halt(&self) {
        if let Some(task) = self.task.lock().unwrap().take() {
            task.abort();
        }
        self.listener.lock().unwrap().take();
    }

    async fn answer(&self, mut request: Request<hyper::body::Incoming>) -> Response<Full<Bytes>> {
        if request
            .headers()
            .get("upgrade")
            .is_some_and(|u| u == "echo")
        {
            // A tiny upgraded protocol: every byte sent comes back.
            let upgrade = hyper::upgrade::on(&mut request);
            tokio::spawn(async move {
                if let Ok(upgraded) = upgrade.await {
                    let (mut read, mut write) = tokio::io::split(TokioIo::new(upgraded));
                    let _ = tokio::io::copy(&mut read, &mut write).await;
                }
            });
            let mut response = Response::new(Full::new(Bytes::new()));
            *response.status_mut() = hyper::StatusCode::SWITCHING_PROTOCOLS;
            response
                .headers_mut()
                .insert("connection", "upgrade".parse().unwrap());
            response
                .headers_mut()
                .insert("upgrade", "echo".parse().unwrap());
            return response;
        }
        let replay_from = request
            .headers()
            .get("x-test-replay-from")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|from| from == self.id || from == "*");
        // Like an app should, answer a fallback request itself unless the
        // test asks for a (forbidden) second replay.
        let fell_back = request.headers().contains_key("fly-replay-failed")
            && !request
                .headers()
                .contains_key("x-test-replay-after-fallback");
        if replay_from && !fell_back {
            // Ask the proxy to deliver the request elsewhere, as the
            // `x-test-replay` header says.
            let value = request.headers()["x-test-replay"].clone();
            if value.as_bytes().starts_with(b"{") {
                // The JSON form.
                let mut response = Response::new(Full::new(Bytes::from(value.as_bytes().to_vec())));
                response.headers_mut().insert(
                    "content-type",
                    "application/vnd.fly.replay+json".parse().unwrap(),
                );
                return response;
            }
            let mut response = Response::new(Full::new(Bytes::from("replay me")));
            response.headers_mut().insert("fly-replay", value);
            // `x-test-replay-cache-<suffix>` asks for `fly-replay-cache-<suffix>`.
            for (name, value) in request.headers() {
                if let Some(suffix) = name.as_str().strip_prefix("x-test-replay-cache") {
                    let name = format!("fly-replay-cache{suffix}");
                    response.headers_mut().insert(
                        hyper::header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                        value.clone(),
                    );
                }
            }
            return response;
        }
        if request.uri().path().starts_with("/slow") {
            self.in_flight.fetch_add(1, Ordering::SeqCst);
            self.gate.acquire().await.unwrap().forget();
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
        }
        self.hits.fetch_add(1, Ordering::SeqCst);
        let (parts, request_body) = request.into_parts();
        let received = request_body
            .collect()
            .await
            .map(|b| b.to_bytes().len())
            .unwrap_or(0);
        let mut body = format!("machine={}\n", self.id);
        for (name, value) in &parts.headers {
            body.push_str(&format!("{}: {}\n", name, value.to_str().unwrap_or("?")));
        }
        body.push_str(&format!("received-bytes: {received}\n"));
        let invalidate = parts
            .headers
            .get("x-test-invalidate")
            .is_some_and(|v| v.as_bytes() == self.id.as_bytes());
        let mut response = Response::new(Full::new(Bytes::from(body)));
        response
            .headers_mut()
            .insert("x-machine-id", self.id.parse().unwrap());
        if invalidate {
            response
                .headers_mut()
                .insert("fly-replay-cache", "invalidate".parse().unwrap());
        }
        let version = format!("{:?}", parts.version);
        response
            .headers_mut()
            .insert("x-request-version", version.parse().unwrap());
        response
    }
}

/// An http service on [`PUBLIC_PORT`] forwarding to `internal_port`.
pub fn http_service(internal_port: u16) -> MachineService {
    MachineService {
        protocol: "tcp".to_string(),
        internal_port: i64::from(internal_port),
        ports: vec![MachinePort {
            port: Some(i64::from(PUBLIC_PORT)),
            handlers: vec!["http".to_string()],
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// Sets the concurrency of a service.
pub fn with_limits(mut service: MachineService, soft: i64, hard: Option<i64>) -> MachineService {
    service.concurrency = Some(ServiceConcurrency {
        kind: Some("requests".to_string()),
        soft_limit: Some(soft),
        hard_limit: hard,
    });
    service
}

/// Sets autostop, autostart and min_machines_running of a service.
pub fn with_autoscale(
    mut service: MachineService,
    autostop: AutostopMode,
    autostart: bool,
    min_running: i64,
) -> MachineService {
    service.autostop = Some(autostop);
    service.autostart = Some(autostart);
    service.min_machines_running = Some(min_running);
    service
}

/// A Machine route for a backend.
pub fn route(app: &str, backend: &Backend, region: &str, state: MachineState) -> MachineRoute {
    MachineRoute {
        id: backend.id.clone(),
        app: app.to_string(),
        region: region.to_string(),
        state,
        address: IpAddr::V4(Ipv4Addr::LOCALHOST),
        cordoned: false,
        checks_passing: true,
        services: vec![http_service(backend.addr.port())],
    }
}

/// What the test's `MachineControl` was asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ControlCall {
    Start(String),
    Stop(String),
    Suspend(String),
}

/// The fleet: route table, backends, and the calls the proxy made.
pub struct Fleet {
    /// `None` once the control plane is gone.
    routes: Mutex<Option<watch::Sender<Arc<RouteTable>>>>,
    table: Mutex<RouteTable>,
    backends: Mutex<HashMap<String, Arc<Backend>>>,
    pub calls: Mutex<Vec<ControlCall>>,
    /// When set, starts wait for a permit here before completing.
    pub start_gate: Option<Arc<Semaphore>>,
    /// When false, a start marks the Machine started without its backend
    /// listening yet (an app still booting).
    pub serve_on_start: std::sync::atomic::AtomicBool,
}

impl Fleet {
    pub fn new(
        start_gate: Option<Arc<Semaphore>>,
    ) -> (Arc<Fleet>, watch::Receiver<Arc<RouteTable>>) {
        let (tx, rx) = watch::channel(Arc::new(RouteTable::default()));
        let fleet = Arc::new(Fleet {
            routes: Mutex::new(Some(tx)),
            table: Mutex::new(RouteTable::default()),
            backends: Mutex::default(),
            calls: Mutex::default(),
            start_gate,
            serve_on_start: std::sync::atomic::AtomicBool::new(true),
        });
        (fleet, rx)
    }

    /// Adds a Machine (and its backend) and publishes a new snapshot.
    pub fn add(&self, route: MachineRoute, backend: &Arc<Backend>) {
        self.backends
            .lock()
            .unwrap()
            .insert(route.id.clone(), backend.clone());
        self.update(|t| t.machines.push(route));
    }

    /// Changes the table and publishes it with the next generation.
    pub fn update(&self, change: impl FnOnce(&mut RouteTable)) {
        let mut table = self.table.lock().unwrap();
        change(&mut table);
        table.generation += 1;
        if let Some(routes) = self.routes.lock().unwrap().as_ref() {
            routes.send_replace(Arc::new(table.clone()));
        }
    }

    /// Drops the route sender, as when the control plane stops.
    pub fn disconnect(&self) {
        self.routes.lock().unwrap().take();
    }

    pub fn set_state(&self, id: &str, state: MachineState) {
        self.update(|t| {
            for m in t.machines.iter_mut().filter(|m| m.id == id) {
                m.state = state;
            }
        });
    }

    pub fn state(&self, id: &str) -> MachineState {
        let table = self.table.lock().unwrap();
        table.machines.iter().find(|m| m.id == id).unwrap().state
    }

    pub fn calls(&self) -> Vec<ControlCall> {
        self.calls.lock().unwrap().clone()
    }

    pub fn backend(&self, id: &str) -> Result<Arc<Backend>, String> {
        self.backends
            .lock()
            .unwrap()
            .get(id)
            .cloned()
            .ok_or_else(|| format!("no Machine {id}"))
    }
}

/// Starts and stops the fleet's backends, as the agent would.
pub struct FleetControl(pub Arc<Fleet>);

#[async_trait::async_trait]
impl MachineControl for FleetControl {
    async fn start(&self, _app: &str, machine_id: &str) -> Result<(), String> {
        let fleet = &self.0;
        fleet
            .calls
            .lock()
            .unwrap()
            .push(ControlCall::Start(machine_id.to_string()));
        if let Some(gate) = &fleet.start_gate {
            gate.acquire().await.map_err(|e| e.to_string())?.forget();
        }
        let backend = fleet.backend(machine_id)?;
        if fleet.serve_on_start.load(Ordering::SeqCst) {
            backend.serve().await;
        }
        fleet.set_state(machine_id, MachineState::Started);
        Ok(())
    }

    async fn stop(&self, _app: &str, machine_id: &str) -> Result<(), String> {
        self.0
            .calls
            .lock()
            .unwrap()
            .push(ControlCall::Stop(machine_id.to_string()));
        self.0.backend(machine_id)?.halt();
        self.0.set_state(machine_id, MachineState::Stopped);
        Ok(())
    }

    async fn suspend(&self, _app: &str, machine_id: &str) -> Result<(), String> {
        self.0
            .calls
            .lock()
            .unwrap()
            .push(ControlCall::Suspend(machine_id.to_string()));
        self.0.backend(machine_id)?.halt();
        self.0.set_state(machine_id, MachineState::Suspended);
        Ok(())
    }
}

/// A running proxy and a client that reaches apps through it.
pub struct Harness {
    pub proxy: Arc<Proxy>,
    pub addr: SocketAddr,
    pub fleet: Arc<Fleet>,
    pub client: reqwest::Client,
    task: JoinHandle<std::io::Result<()>>,
}

impl Harness {
    pub async fn start(config: ProxyConfig) -> Harness {
        Harness::start_with_gate(config, None).await
    }

    /// Client connections are served on two connection workers, as
    /// `hangar proxy` serves them, unless `config` asks for some other
    /// number (tests that build a `Proxy` themselves serve them on the
    /// test's runtime).
    pub async fn start_with_gate(mut config: ProxyConfig, gate: Option<Arc<Semaphore>>) -> Harness {
        if config.connection_workers == 0 {
            config.connection_workers = 2;
        }
        let (fleet, routes) = Fleet::new(gate);
        let proxy = Proxy::new(config, routes, Arc::new(FleetControl(fleet.clone())));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(proxy.clone().serve_http(listener, PUBLIC_PORT));
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Harness {
            proxy,
            addr,
            fleet,
            client,
            task,
        }
    }

    /// The URL of `path` on `app` through the proxy.
    pub fn url(&self, app: &str, path: &str) -> String {
        format!("http://{}:{}{}", host(app), self.addr.port(), path)
    }

    /// A GET through the proxy, with the Host header naming `app`.
    pub fn get(&self, app: &str, path: &str) -> reqwest::RequestBuilder {
        self.client
            .get(format!("http://{}{}", self.addr, path))
            .header("host", format!("{}:{}", host(app), self.addr.port()))
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub fn host(app: &str) -> String {
    format!("{app}.localhost")
}

/// The Machine id named in a backend's response body.
pub fn machine_of(body: &str) -> String {
    body.lines()
        .next()
        .and_then(|l| l.strip_prefix("machine="))
        .unwrap_or("")
        .to_string()
}

/// A config with short waits for tests.
pub fn test_config() -> ProxyConfig {
    ProxyConfig {
        region: "ams".to_string(),
        queue_timeout: Duration::from_secs(5),
        autostart_timeout: Duration::from_secs(5),
        healthy_machine_wait: Duration::ZERO,
        autostop_interval: Duration::from_secs(3600),
        ..ProxyConfig::default()
    }
}
