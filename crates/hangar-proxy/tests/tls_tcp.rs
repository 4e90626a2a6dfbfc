//! TLS-only services over real sockets: the proxy terminates TLS (handlers
//! `["tls"]`, no `http`) and hands the decrypted bytes to a TCP echo server
//! standing for the Machine, with a PROXY header for `["tls", "proxy_proto"]`.

mod echo;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use echo::{EchoBackend, Expect, Relayed};
use hangar_proxy::{CertStore, MachineControl, MachineRoute, Proxy, ProxyConfig, RouteTable};
use hangar_types::{MachinePort, MachineService, MachineState, ProxyProtoOptions};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_rustls::TlsConnector;

const HOST: &str = "db.localhost";
const PUBLIC_PORT: u16 = 5433;
const WAIT: Duration = Duration::from_secs(10);

/// Machines here are always started; a start request is a test failure.
struct NeverStarts;

#[async_trait::async_trait]
impl MachineControl for NeverStarts {
    async fn start(&self, app: &str, id: &str) -> Result<(), String> {
        Err(format!("test did not expect {app}/{id} to be started"))
    }
    async fn stop(&self, _app: &str, _id: &str) -> Result<(), String> {
        Ok(())
    }
    async fn suspend(&self, _app: &str, _id: &str) -> Result<(), String> {
        Ok(())
    }
}

fn machine(backend: &EchoBackend, handlers: &[&str], proxy_proto: Option<&str>) -> MachineRoute {
    MachineRoute {
        id: "m-db".to_string(),
        app: "db".to_string(),
        region: "local".to_string(),
        state: MachineState::Started,
        address: backend.addr.ip(),
        cordoned: false,
        checks_passing: true,
        services: vec![MachineService {
            internal_port: i64::from(backend.addr.port()),
            ports: vec![MachinePort {
                port: Some(i64::from(PUBLIC_PORT)),
                handlers: handlers.iter().map(|h| h.to_string()).collect(),
                proxy_proto_options: proxy_proto.map(|v| ProxyProtoOptions {
                    version: Some(v.to_string()),
                }),
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// A proxy's TLS listener with an operator certificate for [`HOST`]; returns
/// its address and the certificate's PEM (the client's only root).
async fn start_proxy(route: MachineRoute) -> (SocketAddr, String, watch::Sender<Arc<RouteTable>>) {
    let generated = rcgen::generate_simple_self_signed(vec![HOST.to_string()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(format!("{HOST}.crt")), generated.cert.pem()).unwrap();
    std::fs::write(
        dir.path().join(format!("{HOST}.key")),
        generated.key_pair.serialize_pem(),
    )
    .unwrap();
    let certs = Arc::new(CertStore::from_dir(dir.path()).unwrap());
    let (routes, routes_rx) = watch::channel(Arc::new(RouteTable::new(1, vec![route])));
    let proxy = Proxy::new(ProxyConfig::default(), routes_rx, Arc::new(NeverStarts));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(proxy.serve_tls(listener, PUBLIC_PORT, certs));
    (addr, generated.cert.pem(), routes)
}

async fn tls_connect(
    addr: SocketAddr,
    root: &str,
) -> (tokio_rustls::client::TlsStream<TcpStream>, SocketAddr) {
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(root.as_bytes()).unwrap())
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = TcpStream::connect(addr).await.unwrap();
    let local = tcp.local_addr().unwrap();
    let stream = TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from(HOST).unwrap(), tcp)
        .await
        .expect("the handshake verifies against the operator certificate");
    (stream, local)
}

async fn assert_echo<S: AsyncReadExt + AsyncWriteExt + Unpin>(stream: &mut S, text: &[u8]) {
    stream.write_all(text).await.unwrap();
    stream.flush().await.unwrap();
    let mut buf = vec![0u8; text.len()];
    tokio::time::timeout(WAIT, stream.read_exact(&mut buf))
        .await
        .expect("echo within the bound")
        .unwrap();
    assert_eq!(buf, text);
}

#[tokio::test]
async fn tls_only_service_gets_the_decrypted_bytes() {
    let backend = EchoBackend::start(Expect::Nothing).await;
    let (addr, root, _routes) = start_proxy(machine(&backend, &["tls"], None)).await;
    let (mut stream, _) = tls_connect(addr, &root).await;
    // Plain bytes, not HTTP: the Machine echoes them back through TLS.
    assert_echo(&mut stream, b"\x00binary not http\r\n").await;
    assert_echo(&mut stream, b"second write").await;
    assert_eq!(backend.open(), 1);
}

#[tokio::test]
async fn tls_with_proxy_proto_sends_the_header_first() {
    let backend = EchoBackend::start(Expect::ProxyV2).await;
    let (addr, root, _routes) =
        start_proxy(machine(&backend, &["tls", "proxy_proto"], Some("v2"))).await;
    let (mut stream, client) = tls_connect(addr, &root).await;
    assert_echo(&mut stream, b"ping").await;
    let relayed = backend.relayed.lock().unwrap().clone();
    assert_eq!(
        relayed,
        vec![Relayed {
            source: client,
            destination: addr
        }]
    );
}
