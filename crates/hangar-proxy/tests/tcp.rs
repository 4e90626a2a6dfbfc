//! Raw TCP and PROXY protocol services over real sockets: in-test TCP echo
//! servers stand for Machines; the PROXY headers they receive are parsed
//! here, independently of the proxy's encoder.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
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

/// What an echo backend expects before the client's bytes.
#[derive(Clone, Copy)]
enum Expect {
    Nothing,
    ProxyV1,
    ProxyV2,
}

/// Addresses a PROXY header carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Relayed {
    source: SocketAddr,
    destination: SocketAddr,
}

/// A TCP echo server standing for one Machine.
struct EchoBackend {
    addr: SocketAddr,
    expect: Expect,
    /// Connections open right now.
    open: Arc<AtomicUsize>,
    /// Headers received, in order.
    relayed: Arc<Mutex<Vec<Relayed>>>,
    listener: Mutex<Option<TcpListener>>,
}

impl EchoBackend {
    /// Binds a port; answers only once [`EchoBackend::serve`] runs.
    async fn bind(expect: Expect) -> Arc<EchoBackend> {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        Arc::new(EchoBackend {
            addr: listener.local_addr().unwrap(),
            expect,
            open: Arc::default(),
            relayed: Arc::default(),
            listener: Mutex::new(Some(listener)),
        })
    }

    async fn start(expect: Expect) -> Arc<EchoBackend> {
        let backend = EchoBackend::bind(expect).await;
        backend.serve();
        backend
    }

    fn serve(&self) {
        let Some(listener) = self.listener.lock().unwrap().take() else {
            return;
        };
        let (expect, open, relayed) = (self.expect, self.open.clone(), self.relayed.clone());
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let (open, relayed) = (open.clone(), relayed.clone());
                tokio::spawn(async move {
                    open.fetch_add(1, Ordering::SeqCst);
                    let header = match expect {
                        Expect::Nothing => None,
                        Expect::ProxyV1 => Some(read_v1(&mut stream).await),
                        Expect::ProxyV2 => Some(read_v2(&mut stream).await),
                    };
                    if let Some(header) = header {
                        relayed.lock().unwrap().push(header);
                    }
                    let (mut read, mut write) = stream.split();
                    let _ = tokio::io::copy(&mut read, &mut write).await;
                    open.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
    }

    fn open(&self) -> usize {
        self.open.load(Ordering::SeqCst)
    }
}

/// Reads a text header: `PROXY TCP4|TCP6 src dst sport dport\r\n`.
async fn read_v1(stream: &mut TcpStream) -> Relayed {
    let mut line = Vec::new();
    while !line.ends_with(b"\r\n") {
        assert!(line.len() < 108, "a v1 header is at most 107 bytes");
        line.push(stream.read_u8().await.unwrap());
    }
    let line = String::from_utf8(line).unwrap();
    let fields: Vec<&str> = line.trim_end().split(' ').collect();
    assert_eq!(fields.len(), 6, "v1 header {line:?}");
    assert_eq!(fields[0], "PROXY");
    assert!(fields[1] == "TCP4" || fields[1] == "TCP6", "{line:?}");
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    let port = |s: &str| s.parse::<u16>().unwrap();
    Relayed {
        source: SocketAddr::new(ip(fields[2]), port(fields[4])),
        destination: SocketAddr::new(ip(fields[3]), port(fields[5])),
    }
}

/// Reads a binary header: signature, version/command, family, length, addresses.
async fn read_v2(stream: &mut TcpStream) -> Relayed {
    let mut fixed = [0u8; 16];
    stream.read_exact(&mut fixed).await.unwrap();
    assert_eq!(&fixed[..12], b"\r\n\r\n\0\r\nQUIT\n", "v2 signature");
    assert_eq!(fixed[12], 0x21, "version 2, command PROXY");
    let length = usize::from(u16::from_be_bytes([fixed[14], fixed[15]]));
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).await.unwrap();
    let port = |at: usize| u16::from_be_bytes([body[at], body[at + 1]]);
    match fixed[13] {
        0x11 => {
            assert!(length >= 12);
            let v4 = |at: usize| {
                IpAddr::V4(Ipv4Addr::new(
                    body[at],
                    body[at + 1],
                    body[at + 2],
                    body[at + 3],
                ))
            };
            Relayed {
                source: SocketAddr::new(v4(0), port(8)),
                destination: SocketAddr::new(v4(4), port(10)),
            }
        }
        0x21 => {
            assert!(length >= 36);
            let v6 = |at: usize| {
                let octets: [u8; 16] = body[at..at + 16].try_into().unwrap();
                IpAddr::V6(Ipv6Addr::from(octets))
            };
            Relayed {
                source: SocketAddr::new(v6(0), port(32)),
                destination: SocketAddr::new(v6(16), port(34)),
            }
        }
        other => panic!("unexpected v2 family/transport byte {other:#x}"),
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
