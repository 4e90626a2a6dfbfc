//! Raw TCP and PROXY protocol services over real sockets: in-test TCP echo
//! servers stand for Machines; the PROXY headers they receive are parsed
//! here, independently of the proxy's encoder.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hangar_proxy::{MachineControl, MachineRoute, Proxy, ProxyConfig, RouteTable};
use hangar_types::{
    MachinePort, MachineService, MachineState, ProxyProtoOptions, ServiceConcurrency,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

mod echo;

use echo::{EchoBackend, Expect, Relayed};

const APP: &str = "db";
const PUBLIC_PORT: u16 = 5432;
const WAIT: Duration = Duration::from_secs(10);

async fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !condition() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {WAIT:?} waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Machines and their route table; starting a Machine serves its backend.
struct Fleet {
    routes: watch::Sender<Arc<RouteTable>>,
    backends: Mutex<HashMap<String, Arc<EchoBackend>>>,
    starts: AtomicUsize,
}

impl Fleet {
    fn add(&self, route: MachineRoute, backend: &Arc<EchoBackend>) {
        self.backends
            .lock()
            .unwrap()
            .insert(route.id.clone(), backend.clone());
        self.routes.send_modify(|table| {
            let mut next = RouteTable::clone(table);
            next.generation += 1;
            next.machines.push(route);
            *table = Arc::new(next);
        });
    }
}

struct FleetControl(Arc<Fleet>);

#[async_trait::async_trait]
impl MachineControl for FleetControl {
    async fn start(&self, _app: &str, id: &str) -> Result<(), String> {
        self.0.starts.fetch_add(1, Ordering::SeqCst);
        let backend = self.0.backends.lock().unwrap().get(id).cloned();
        backend.ok_or_else(|| format!("no Machine {id}"))?.serve();
        self.0.routes.send_modify(|table| {
            let mut next = RouteTable::clone(table);
            next.generation += 1;
            for m in next.machines.iter_mut().filter(|m| m.id == id) {
                m.state = MachineState::Started;
            }
            *table = Arc::new(next);
        });
        Ok(())
    }
    async fn stop(&self, _app: &str, _id: &str) -> Result<(), String> {
        Ok(())
    }
    async fn suspend(&self, _app: &str, _id: &str) -> Result<(), String> {
        Ok(())
    }
}

/// A raw TCP service on [`PUBLIC_PORT`] forwarding to `addr`.
fn route(
    id: &str,
    addr: SocketAddr,
    state: MachineState,
    handlers: &[&str],
    proxy_proto_version: Option<&str>,
    limits: (i64, Option<i64>),
) -> MachineRoute {
    MachineRoute {
        id: id.to_string(),
        app: APP.to_string(),
        region: "local".to_string(),
        state,
        address: addr.ip(),
        cordoned: false,
        checks_passing: true,
        services: vec![MachineService {
            internal_port: i64::from(addr.port()),
            ports: vec![MachinePort {
                port: Some(i64::from(PUBLIC_PORT)),
                handlers: handlers.iter().map(|h| h.to_string()).collect(),
                proxy_proto_options: proxy_proto_version.map(|v| ProxyProtoOptions {
                    version: Some(v.to_string()),
                }),
                ..Default::default()
            }],
            concurrency: Some(ServiceConcurrency {
                kind: Some("connections".to_string()),
                soft_limit: Some(limits.0),
                hard_limit: limits.1,
            }),
            ..Default::default()
        }],
    }
}

fn raw(id: &str, backend: &EchoBackend) -> MachineRoute {
    route(
        id,
        backend.addr,
        MachineState::Started,
        &[],
        None,
        (20, None),
    )
}

/// A proxy serving raw TCP for [`APP`] on an ephemeral loopback port.
struct Harness {
    fleet: Arc<Fleet>,
    proxy: Arc<Proxy>,
    addr: SocketAddr,
}

impl Harness {
    async fn start() -> Harness {
        let (routes, routes_rx) = watch::channel(Arc::new(RouteTable::default()));
        let fleet = Arc::new(Fleet {
            routes,
            backends: Mutex::default(),
            starts: AtomicUsize::new(0),
        });
        let config = ProxyConfig {
            queue_timeout: WAIT,
            ..ProxyConfig::default()
        };
        let proxy = Proxy::new(config, routes_rx, Arc::new(FleetControl(fleet.clone())));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(
            proxy
                .clone()
                .serve_tcp(listener, APP.to_string(), PUBLIC_PORT),
        );
        Harness { fleet, proxy, addr }
    }

    /// Connects and checks that bytes come back.
    async fn connect_echo(&self) -> TcpStream {
        let mut stream = TcpStream::connect(self.addr).await.unwrap();
        assert_echo(&mut stream).await;
        stream
    }
}

async fn assert_echo(stream: &mut TcpStream) {
    stream.write_all(b"ping").await.unwrap();
    let mut buf = [0u8; 4];
    tokio::time::timeout(WAIT, stream.read_exact(&mut buf))
        .await
        .expect("echo within the bound")
        .unwrap();
    assert_eq!(&buf, b"ping");
}

#[tokio::test]
async fn echo_through_the_proxy_is_counted() {
    let h = Harness::start().await;
    let backend = EchoBackend::start(Expect::Nothing).await;
    h.fleet.add(raw("m1", &backend), &backend);
    let mut stream = h.connect_echo().await;
    let big = vec![7u8; 256 * 1024];
    stream.write_all(&big).await.unwrap();
    let mut back = vec![0u8; big.len()];
    stream.read_exact(&mut back).await.unwrap();
    assert_eq!(back, big);
    assert_eq!(h.proxy.in_flight("m1"), 1, "an open connection is load");
    drop(stream);
    wait_until("the connection is released", || {
        h.proxy.in_flight("m1") == 0
    })
    .await;
    let metrics = h.proxy.metrics_text();
    assert!(
        metrics.contains("hangar_proxy_tcp_connections_total{app=\"db\",machine=\"m1\"} 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn connections_balance_across_machines() {
    let h = Harness::start().await;
    let a = EchoBackend::start(Expect::Nothing).await;
    let b = EchoBackend::start(Expect::Nothing).await;
    h.fleet.add(raw("a", &a), &a);
    h.fleet.add(raw("b", &b), &b);
    let mut held = Vec::new();
    for _ in 0..6 {
        held.push(h.connect_echo().await);
    }
    assert_eq!((a.open(), b.open()), (3, 3), "least loaded first");
    assert_eq!((h.proxy.in_flight("a"), h.proxy.in_flight("b")), (3, 3));
}

#[tokio::test]
async fn hard_limit_queues_the_next_connection() {
    let h = Harness::start().await;
    let backend = EchoBackend::start(Expect::Nothing).await;
    let machine = route(
        "m1",
        backend.addr,
        MachineState::Started,
        &[],
        None,
        (1, Some(1)),
    );
    h.fleet.add(machine, &backend);
    let first = h.connect_echo().await;
    let mut second = TcpStream::connect(h.addr).await.unwrap();
    second.write_all(b"ping").await.unwrap();
    wait_until("the second connection queues", || {
        h.proxy.queued_requests() == 1
    })
    .await;
    assert_eq!(backend.open(), 1, "the hard limit holds");
    drop(first);
    let mut buf = [0u8; 4];
    tokio::time::timeout(WAIT, second.read_exact(&mut buf))
        .await
        .expect("served once the first closed")
        .unwrap();
    assert_eq!(&buf, b"ping");
    assert_eq!(h.proxy.queued_requests(), 0);
}

#[tokio::test]
async fn first_connection_autostarts_a_stopped_machine() {
    let h = Harness::start().await;
    let backend = EchoBackend::bind(Expect::Nothing).await;
    let machine = route(
        "m1",
        backend.addr,
        MachineState::Stopped,
        &[],
        None,
        (20, None),
    );
    h.fleet.add(machine, &backend);
    let _stream = h.connect_echo().await;
    assert_eq!(h.fleet.starts.load(Ordering::SeqCst), 1);
    assert_eq!(backend.open(), 1);
}

async fn proxy_proto_carries_addresses(version: Option<&str>, expect: Expect) {
    let h = Harness::start().await;
    let backend = EchoBackend::start(expect).await;
    let machine = route(
        "m1",
        backend.addr,
        MachineState::Started,
        &["proxy_proto"],
        version,
        (20, None),
    );
    h.fleet.add(machine, &backend);
    let stream = h.connect_echo().await;
    let client = stream.local_addr().unwrap();
    let relayed = backend.relayed.lock().unwrap().clone();
    assert_eq!(
        relayed,
        vec![Relayed {
            source: client,
            destination: h.addr
        }]
    );
}

#[tokio::test]
async fn proxy_proto_v1_header_has_the_client_addresses() {
    proxy_proto_carries_addresses(None, Expect::ProxyV1).await;
}

#[tokio::test]
async fn proxy_proto_v2_header_has_the_client_addresses() {
    proxy_proto_carries_addresses(Some("v2"), Expect::ProxyV2).await;
}

#[tokio::test]
async fn refused_connection_is_retried_on_another_machine() {
    let h = Harness::start().await;
    // A port with nothing listening: connections to it are refused.
    let dead = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let good = EchoBackend::start(Expect::Nothing).await;
    let dead_backend = EchoBackend::bind(Expect::Nothing).await;
    h.fleet.add(
        route("dead", dead, MachineState::Started, &[], None, (20, None)),
        &dead_backend,
    );
    h.fleet.add(raw("good", &good), &good);
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(h.connect_echo().await);
    }
    assert_eq!(good.open(), 4, "every connection reached the live Machine");
    let metrics = h.proxy.metrics_text();
    assert!(
        metrics.contains("hangar_proxy_connect_failures_total{app=\"db\",machine=\"dead\"}"),
        "the dead Machine was tried: {metrics}"
    );
}
