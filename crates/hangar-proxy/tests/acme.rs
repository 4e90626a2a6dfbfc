//! ACME for custom domains against a real ACME server: pebble (Debian
//! package `pebble`) on loopback, its DNS pointed at pebble-challtestsrv so
//! that `shop.example.test` resolves to 127.0.0.1 and pebble validates the
//! HTTP-01 challenge against the proxy's HTTP listener. The issued
//! certificate must then verify against pebble's issuing root in a TLS
//! request that reaches the app's Machine.

mod common;

use std::net::{SocketAddr, TcpListener as StdListener};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use hangar_proxy::{AcmeConfig, AcmeStatus, CertStore, Proxy};
use hangar_types::{MachinePort, MachineState};
use tokio::net::TcpListener;
use tokio::process::{Child, Command};

const DOMAIN: &str = "shop.example.test";
const TLS_PORT: u16 = 443;
/// Issuance on loopback takes about a second; the bound is generous for CI.
const ISSUE_WAIT: Duration = Duration::from_secs(60);

fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn installed(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

/// A CA and a certificate for 127.0.0.1/localhost signed by it, for
/// pebble's own HTTPS listener; returns the CA's PEM.
fn pebble_server_cert(dir: &Path) -> String {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    params
        .subject_alt_names
        .push(rcgen::SanType::IpAddress([127, 0, 0, 1].into()));
    let cert = params.signed_by(&key, &ca, &ca_key).unwrap();
    std::fs::write(dir.join("server.crt"), cert.pem()).unwrap();
    std::fs::write(dir.join("server.key"), key.serialize_pem()).unwrap();
    std::fs::write(dir.join("ca.crt"), ca.pem()).unwrap();
    ca.pem()
}

/// pebble and pebble-challtestsrv, killed when dropped.
struct Pebble {
    directory_url: String,
    management: SocketAddr,
    _dns: Child,
    _pebble: Child,
}

impl Pebble {
    /// Starts both; pebble validates HTTP-01 on `http_port`.
    async fn start(dir: &Path, http_port: u16) -> Pebble {
        let (dns_port, dns_management) = (free_port(), free_port());
        let dns = Command::new("pebble-challtestsrv")
            .args(["-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""])
            .args(["-dns01", &format!("127.0.0.1:{dns_port}")])
            .args(["-http01", "", "-https01", "", "-tlsalpn01", ""])
            .args(["-management", &format!("127.0.0.1:{dns_management}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("pebble-challtestsrv starts");
        let (listen, management) = (free_port(), free_port());
        let config = serde_json::json!({
            "pebble": {
                "listenAddress": format!("127.0.0.1:{listen}"),
                "managementListenAddress": format!("127.0.0.1:{management}"),
                "certificate": dir.join("server.crt"),
                "privateKey": dir.join("server.key"),
                "httpPort": http_port,
                "tlsPort": free_port(),
                "ocspResponderURL": "",
                "externalAccountBindingRequired": false
            }
        });
        let config_path = dir.join("pebble.json");
        std::fs::write(&config_path, config.to_string()).unwrap();
        let pebble = Command::new("pebble")
            .arg("-config")
            .arg(&config_path)
            .args(["-dnsserver", &format!("127.0.0.1:{dns_port}")])
            .env("PEBBLE_VA_NOSLEEP", "1")
            .env("PEBBLE_WFE_NONCEREJECT", "0")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("pebble starts");
        let pebble = Pebble {
            directory_url: format!("https://127.0.0.1:{listen}/dir"),
            management: SocketAddr::from(([127, 0, 0, 1], management)),
            _dns: dns,
            _pebble: pebble,
        };
        for addr in [
            SocketAddr::from(([127, 0, 0, 1], listen)),
            pebble.management,
            SocketAddr::from(([127, 0, 0, 1], dns_management)),
        ] {
            let deadline = tokio::time::Instant::now() + WAIT;
            while tokio::net::TcpStream::connect(addr).await.is_err() {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "pebble did not listen on {addr} within {WAIT:?}"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        pebble
    }

    /// The root pebble issues under (from its management interface).
    async fn issuing_root(&self, server_ca: &str) -> String {
        let client = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(server_ca.as_bytes()).unwrap())
            .build()
            .unwrap();
        client
            .get(format!("https://{}/roots/0", self.management))
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap()
            .text()
            .await
            .unwrap()
    }
}

#[tokio::test]
async fn custom_domain_gets_a_certificate_from_pebble_and_serves_https() {
    if !installed("pebble") || !installed("pebble-challtestsrv") {
        eprintln!(
            "SKIPPED custom_domain_gets_a_certificate_from_pebble: pebble or \
             pebble-challtestsrv is not installed (apt-get install pebble)"
        );
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let server_ca = pebble_server_cert(work.path());
    // The proxy's HTTP listener, whose port pebble validates against.
    let http = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let http_port = http.local_addr().unwrap().port();
    let pebble = Pebble::start(work.path(), http_port).await;

    let cert_dir = work.path().join("acme");
    let mut acme = AcmeConfig::new(pebble.directory_url.clone(), &cert_dir);
    acme.contact_email = Some("ops@example.test".to_string());
    acme.extra_root_pem = Some(work.path().join("ca.crt"));
    let mut config = test_config();
    config.acme = Some(acme);
    let (fleet, routes) = Fleet::new(None);
    let proxy = Proxy::new(config, routes, Arc::new(FleetControl(fleet.clone())));
    let backend = Backend::start("m-shop").await;
    let mut machine = route("shop", &backend, "ams", MachineState::Started);
    machine.services[0].ports.push(MachinePort {
        port: Some(i64::from(TLS_PORT)),
        handlers: vec!["tls".to_string(), "http".to_string()],
        ..Default::default()
    });
    fleet.add(machine, &backend);
    tokio::spawn(proxy.clone().serve_http(http, PUBLIC_PORT));
    let tls = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let tls_addr = tls.local_addr().unwrap();
    let certs = Arc::new(CertStore::new());
    tokio::spawn(proxy.clone().serve_tls(tls, TLS_PORT, certs.clone()));
    let _manager = proxy.spawn_acme(certs).expect("ACME is configured");

    // The platform adds the custom domain (from the certificates API).
    fleet.update(|t| {
        t.custom_domains
            .insert(DOMAIN.to_string(), "shop".to_string());
    });
    let deadline = tokio::time::Instant::now() + ISSUE_WAIT;
    let not_after = loop {
        match proxy.acme_status().get(DOMAIN) {
            Some(AcmeStatus::Issued { not_after }) => break *not_after,
            Some(AcmeStatus::Failed { reason }) => panic!("issuance failed: {reason}"),
            _ => {}
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no certificate within {ISSUE_WAIT:?}: {:?}",
            proxy.acme_status()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(not_after > std::time::SystemTime::now());

    for file in [format!("{DOMAIN}.crt"), format!("{DOMAIN}.key")] {
        let mode = std::fs::metadata(cert_dir.join(&file))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{file} is private");
    }

    // A client trusting only pebble's issuing root reaches the app's Machine.
    let root = pebble.issuing_root(&server_ca).await;
    let client = reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(root.as_bytes()).unwrap())
        .resolve(DOMAIN, tls_addr)
        .build()
        .unwrap();
    let response = client
        .get(format!("https://{DOMAIN}:{}/", tls_addr.port()))
        .send()
        .await
        .expect("the ACME certificate verifies against pebble's root");
    assert_eq!(response.status(), 200);
    let body = response.text().await.unwrap();
    assert_eq!(machine_of(&body), "m-shop");
}
