//! TLS termination over real sockets: SNI-selected certificates (self-signed
//! for app hosts, operator files first), refused unknown names, ALPN h2.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use common::*;
use hangar_proxy::{CertStore, Proxy};
use hangar_types::{MachinePort, MachineState};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

/// Fly's TLS port: the service port the TLS listener matches.
const TLS_PORT: u16 = 443;

/// A proxy serving TLS on an ephemeral port, one app `app` behind it.
struct TlsHarness {
    addr: SocketAddr,
    certs: Arc<CertStore>,
    _fleet: Arc<Fleet>,
    task: JoinHandle<std::io::Result<()>>,
}

impl TlsHarness {
    async fn start(certs: CertStore) -> TlsHarness {
        let (fleet, routes) = Fleet::new(None);
        let proxy = Proxy::new(test_config(), routes, Arc::new(FleetControl(fleet.clone())));
        let backend = Backend::start("m-tls").await;
        let mut route = route("app", &backend, "ams", MachineState::Started);
        route.services[0].ports = vec![MachinePort {
            port: Some(i64::from(TLS_PORT)),
            handlers: vec!["tls".to_string(), "http".to_string()],
            ..Default::default()
        }];
        fleet.add(route, &backend);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let certs = Arc::new(certs);
        let task = tokio::spawn(proxy.serve_tls(listener, TLS_PORT, certs.clone()));
        TlsHarness {
            addr,
            certs,
            _fleet: fleet,
            task,
        }
    }

    /// A handshake for `sni` trusting only `roots`, offering `alpn`.
    async fn connect(
        &self,
        sni: &str,
        roots: &[String],
        alpn: &[&[u8]],
    ) -> std::io::Result<TlsStream<TcpStream>> {
        let mut store = RootCertStore::empty();
        for pem in roots {
            for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
                store.add(cert.unwrap()).unwrap();
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(store)
            .with_no_client_auth();
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        let tcp = TcpStream::connect(self.addr).await?;
        let name = ServerName::try_from(sni.to_string()).unwrap();
        TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
    }

    /// The self-signed certificate the proxy serves for `host`: a first
    /// handshake (which the client cannot verify yet) makes it.
    async fn self_signed_pem(&self, host: &str) -> String {
        let first = self.connect(host, &[], &[]).await;
        let error = first.expect_err("an unknown issuer must not verify");
        assert!(
            error.to_string().contains("invalid peer certificate"),
            "the proxy should have offered a certificate: {error}"
        );
        self.certs
            .certificate_pem(host)
            .expect("the proxy made a certificate for the app host")
    }

    /// A reqwest client trusting only `root`, reaching `host` at the proxy.
    fn client(&self, host: &str, root: &str) -> reqwest::Client {
        reqwest::Client::builder()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(root.as_bytes()).unwrap())
            .resolve(host, self.addr)
            .build()
            .unwrap()
    }

    fn url(&self, host: &str) -> String {
        format!("https://{host}:{}/hello", self.addr.port())
    }
}

impl Drop for TlsHarness {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The value of `name` in a backend's echoed request headers.
fn echoed<'a>(body: &'a str, name: &str) -> Option<&'a str> {
    body.lines()
        .filter_map(|l| l.split_once(": "))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v)
}

/// An operator certificate pair for `names`, written to `dir` as `file`.crt/.key.
fn write_operator_cert(dir: &std::path::Path, file: &str, names: &[&str]) -> String {
    let names = names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
    let generated = rcgen::generate_simple_self_signed(names).unwrap();
    let pem = generated.cert.pem();
    std::fs::write(dir.join(format!("{file}.crt")), &pem).unwrap();
    std::fs::write(
        dir.join(format!("{file}.key")),
        generated.key_pair.serialize_pem(),
    )
    .unwrap();
    pem
}

#[tokio::test]
async fn self_signed_certificate_for_the_app_host_serves_https() {
    let proxy = TlsHarness::start(CertStore::new()).await;
    let root = proxy.self_signed_pem("app.localhost").await;
    // webpki checks the certificate against the name: it is for app.localhost.
    let client = proxy.client("app.localhost", &root);
    let response = client.get(proxy.url("app.localhost")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.version(), reqwest::Version::HTTP_11);
    let body = response.text().await.unwrap();
    assert_eq!(machine_of(&body), "m-tls");
    assert_eq!(echoed(&body, "x-forwarded-proto"), Some("https"));
    assert_eq!(echoed(&body, "x-forwarded-ssl"), Some("on"));
    assert_eq!(echoed(&body, "fly-forwarded-port"), Some("443"));
    // The same certificate is served again (cached, not remade).
    let again = client.get(proxy.url("app.localhost")).send().await.unwrap();
    assert_eq!(again.status(), 200);
    assert_eq!(proxy.certs.certificate_pem("app.localhost"), Some(root));
}

#[tokio::test]
async fn unknown_hosts_are_refused_in_the_handshake() {
    let proxy = TlsHarness::start(CertStore::new()).await;
    for host in ["nope.localhost", "example.com", "a.app.localhost"] {
        let error = proxy
            .connect(host, &[], &[])
            .await
            .err()
            .unwrap_or_else(|| panic!("{host}: the handshake must fail"));
        let message = error.to_string();
        assert!(
            message.contains("alert"),
            "{host}: the proxy must refuse, not offer a certificate: {message}"
        );
        assert!(proxy.certs.certificate_pem(host).is_none(), "{host}");
    }
}

#[tokio::test]
async fn an_operator_certificate_wins_over_self_signed() {
    let dir = tempfile::tempdir().unwrap();
    let operator_pem = write_operator_cert(dir.path(), "app.localhost", &["app.localhost"]);
    let certs = CertStore::from_dir(dir.path()).unwrap();
    assert_eq!(certs.operator_hosts(), vec!["app.localhost".to_string()]);
    let proxy = TlsHarness::start(certs).await;
    let client = proxy.client("app.localhost", &operator_pem);
    let response = client.get(proxy.url("app.localhost")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let body = response.text().await.unwrap();
    assert_eq!(echoed(&body, "x-forwarded-proto"), Some("https"));
    assert_eq!(
        proxy.certs.certificate_pem("app.localhost"),
        Some(operator_pem)
    );
}

#[tokio::test]
async fn wildcard_operator_certificates_cover_one_label() {
    let dir = tempfile::tempdir().unwrap();
    let pem = write_operator_cert(dir.path(), "_wildcard.example.com", &["*.example.com"]);
    let certs = CertStore::from_dir(dir.path()).unwrap();
    assert_eq!(certs.operator_hosts(), vec!["*.example.com".to_string()]);
    assert_eq!(certs.certificate_pem("api.example.com"), Some(pem));
    assert_eq!(certs.certificate_pem("a.b.example.com"), None);
    assert_eq!(certs.certificate_pem("example.com"), None);
}

#[tokio::test]
async fn a_certificate_without_its_key_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    write_operator_cert(dir.path(), "app.localhost", &["app.localhost"]);
    std::fs::remove_file(dir.path().join("app.localhost.key")).unwrap();
    let error = CertStore::from_dir(dir.path()).unwrap_err();
    assert!(error.to_string().contains("app.localhost.key"), "{error}");
}

#[tokio::test]
async fn self_signed_certificates_are_kept_on_disk_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let proxy = TlsHarness::start(CertStore::new().with_self_signed_dir(dir.path())).await;
    let pem = proxy.self_signed_pem("app.localhost").await;
    let on_disk = std::fs::read_to_string(dir.path().join("app.localhost.crt")).unwrap();
    assert_eq!(on_disk, pem);
    // A restarted proxy serves the same certificate.
    let restarted = TlsHarness::start(CertStore::new().with_self_signed_dir(dir.path())).await;
    let client = restarted.client("app.localhost", &pem);
    let response = client
        .get(restarted.url("app.localhost"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn alpn_h2_serves_http2() {
    let proxy = TlsHarness::start(CertStore::new()).await;
    let root = proxy.self_signed_pem("app.localhost").await;
    let tls = proxy
        .connect("app.localhost", &[root], &[b"h2", b"http/1.1"])
        .await
        .unwrap();
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (mut sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
            .await
            .unwrap();
    tokio::spawn(connection);
    let request = hyper::Request::get("https://app.localhost/h2")
        .body(Empty::<Bytes>::new())
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.version(), hyper::Version::HTTP_2);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let body = String::from_utf8(body.to_vec()).unwrap();
    assert_eq!(machine_of(&body), "m-tls");
    assert_eq!(echoed(&body, "x-forwarded-proto"), Some("https"));
}

/// A request on a TLS connection for app.localhost (SNI) whose Host names
/// another app is refused with 421 and a PN03 body, not sent to either app.
#[tokio::test]
async fn host_naming_another_app_than_sni_is_misdirected() {
    let proxy = TlsHarness::start(CertStore::new()).await;
    let root = proxy.self_signed_pem("app.localhost").await;
    let tls = proxy
        .connect("app.localhost", &[root], &[b"http/1.1"])
        .await
        .unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .unwrap();
    tokio::spawn(connection);
    let send = |host: &'static str| {
        hyper::Request::get("/hello")
            .header("host", host)
            .body(Empty::<Bytes>::new())
            .unwrap()
    };
    let response = sender.send_request(send("other.localhost")).await.unwrap();
    assert_eq!(response.status(), 421);
    assert_eq!(response.headers()["hangar-proxy-error"], "PN03");
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let body = String::from_utf8_lossy(&body);
    assert!(
        body.contains("SNI") && body.contains("other.localhost"),
        "{body}"
    );
    // The same connection still serves its own app.
    let response = sender.send_request(send("app.localhost")).await.unwrap();
    assert_eq!(response.status(), 200);
}
