//! Raw TCP services (handlers `[]` and `["proxy_proto"]`): one listener per
//! app and public port, as on a dedicated IP, splicing bytes to a Machine
//! chosen by the same balancing and autostart rules as HTTP. TLS-only
//! services (`["tls"]`, `["tls", "proxy_proto"]`) end here too once the TLS
//! listener has decrypted the connection.

use std::collections::BTreeSet;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hangar_types::{MachinePort, MachineService};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::acquire::{Acquirer, ServiceKind};
use crate::error::ProxyErrorCode;
use crate::load::LoadGuard;
use crate::placement::Placement;
use crate::proxy::Proxy;
use crate::proxy_proto::{self, ProxyProtoVersion};
use crate::routes::{port_matches, MachineRoute, RouteTable};
use crate::server::is_transient;

/// The raw TCP service a Machine offers on `public_port`: a port with no
/// handlers, or only `proxy_proto`.
fn tcp_service(route: &MachineRoute, public_port: u16) -> Option<(&MachineService, &MachinePort)> {
    route.services.iter().find_map(|service| {
        service
            .ports
            .iter()
            .find(|p| port_matches(p, public_port) && p.handlers.iter().all(|h| h == "proxy_proto"))
            .map(|p| (service, p))
    })
}

/// The TLS-only service a Machine offers on `public_port`: the proxy
/// terminates TLS and forwards plaintext bytes, `["tls"]` or
/// `["tls", "proxy_proto"]` (no `http`).
pub(crate) fn tls_service(
    route: &MachineRoute,
    public_port: u16,
) -> Option<(&MachineService, &MachinePort)> {
    route.services.iter().find_map(|service| {
        service
            .ports
            .iter()
            .find(|p| {
                port_matches(p, public_port)
                    && p.handlers.iter().any(|h| h == "tls")
                    && p.handlers.iter().all(|h| h == "tls" || h == "proxy_proto")
            })
            .map(|p| (service, p))
    })
}

/// Raw TCP connections: ports with no handlers or only `proxy_proto`.
const TCP: ServiceKind = ServiceKind {
    lookup: tcp_service,
    none_healthy: |app, port| ProxyErrorCode::NoService {
        app: app.to_string(),
        port,
    },
};

/// Decrypted TLS connections to a TLS-only service.
pub(crate) const TLS_TCP: ServiceKind = ServiceKind {
    lookup: tls_service,
    none_healthy: |app, port| ProxyErrorCode::NoService {
        app: app.to_string(),
        port,
    },
};

/// Most ports one `start_port..=end_port` range yields in
/// [`RouteTable::tcp_services`]; wider ranges are cut there.
const MAX_PORTS_PER_RANGE: i64 = 1024;

impl RouteTable {
    /// Every `(app, public port)` some Machine (in any state but destroyed)
    /// serves as raw TCP or `proxy_proto`: the listeners a host should run
    /// with [`Proxy::serve_tcp`]. Port ranges are expanded, at most
    /// 1024 ports per range.
    pub fn tcp_services(&self) -> BTreeSet<(String, u16)> {
        let mut services = BTreeSet::new();
        for (machine, port) in self.live_ports() {
            if port.handlers.iter().all(|h| h == "proxy_proto") {
                for number in port_numbers(port) {
                    services.insert((machine.app.clone(), number));
                }
            }
        }
        services
    }

    /// Every public port where some Machine (in any state but destroyed)
    /// has a `tls` handler: the ports a host should serve with
    /// [`Proxy::serve_tls`] (SNI picks the app). Ranges as in
    /// [`RouteTable::tcp_services`].
    pub fn tls_ports(&self) -> BTreeSet<u16> {
        self.live_ports()
            .filter(|(_, port)| port.handlers.iter().any(|h| h == "tls"))
            .flat_map(|(_, port)| port_numbers(port))
            .collect()
    }

    fn live_ports(&self) -> impl Iterator<Item = (&MachineRoute, &MachinePort)> {
        self.machines
            .iter()
            .filter(|m| m.state != hangar_types::MachineState::Destroyed)
            .flat_map(|m| {
                m.services
                    .iter()
                    .flat_map(|s| s.ports.iter())
                    .map(move |p| (m, p))
            })
    }
}

/// The public port numbers of a port entry; ranges cut at
/// [`MAX_PORTS_PER_RANGE`].
fn port_numbers(port: &MachinePort) -> impl Iterator<Item = u16> {
    let numbers = match (port.port, port.start_port, port.end_port) {
        (Some(p), _, _) => p..=p,
        (None, Some(start), Some(end)) => {
            start..=end.min(start.saturating_add(MAX_PORTS_PER_RANGE - 1))
        }
        #[allow(clippy::reversed_empty_ranges)]
        _ => 1..=0,
    };
    numbers.filter_map(|n| u16::try_from(n).ok())
}

/// A connection open to a Machine, holding its slot there.
struct Upstream {
    stream: TcpStream,
    machine_id: String,
    proxy_proto: Option<ProxyProtoVersion>,
    _guard: LoadGuard,
}

impl Proxy {
    /// Serves raw TCP for `app` on `listener`: every connection goes to a
    /// Machine of `app` whose service has a port equal to `public_port`
    /// with handlers `[]` or `["proxy_proto"]`. Raw TCP carries no host
    /// name, so the host runs one listener per app and public port. Runs
    /// until the listener fails for good.
    pub async fn serve_tcp(
        self: Arc<Self>,
        listener: TcpListener,
        app: String,
        public_port: u16,
    ) -> io::Result<()> {
        let app: Arc<str> = app.into();
        loop {
            let (client, peer) = match listener.accept().await {
                Ok(accepted) => accepted,
                Err(error) if is_transient(&error) => {
                    tracing::warn!(%error, "accept failed; retrying");
                    // Back off so that a full file table does not spin the CPU.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
                Err(error) => return Err(error),
            };
            let proxy = self.clone();
            let app = app.clone();
            self.spawn_connection(client, move |client| async move {
                let _ = client.set_nodelay(true);
                // The address the client dialled: the listener's own address.
                let Ok(local) = client.local_addr() else {
                    return;
                };
                proxy
                    .splice(client, peer, local, &app, public_port, TCP)
                    .await;
            });
        }
    }

    /// Carries one client connection to a Machine until either side closes.
    /// `local` is the address the client dialled (sent in a PROXY header).
    pub(crate) async fn splice<C>(
        self: &Arc<Self>,
        mut client: C,
        peer: SocketAddr,
        local: SocketAddr,
        app: &str,
        port: u16,
        kind: ServiceKind,
    ) where
        C: AsyncRead + AsyncWrite + Unpin,
    {
        let mut upstream = match self.connect_tcp(app, port, kind).await {
            Ok(upstream) => upstream,
            Err(error) => {
                tracing::debug!(%app, port, %error, "no Machine took the TCP connection");
                self.metrics.tcp_connection(app, "");
                return;
            }
        };
        self.metrics.tcp_connection(app, &upstream.machine_id);
        if let Some(version) = upstream.proxy_proto {
            let header = proxy_proto::header(version, peer, local);
            if let Err(error) = upstream.stream.write_all(&header).await {
                tracing::debug!(%app, machine = %upstream.machine_id, %error, "writing PROXY header failed");
                return;
            }
        }
        if let Err(error) = tokio::io::copy_bidirectional(&mut client, &mut upstream.stream).await {
            tracing::debug!(%app, machine = %upstream.machine_id, %error, "TCP connection ended with an error");
        }
    }

    /// Opens a connection to a Machine of `app` serving raw TCP on
    /// `public_port`: balancing, queueing at hard limits, autostart and
    /// retries on other Machines as for HTTP requests.
    async fn connect_tcp(
        &self,
        app: &str,
        public_port: u16,
        kind: ServiceKind,
    ) -> Result<Upstream, ProxyErrorCode> {
        if !self.routes.borrow().has_app(app) {
            return Err(ProxyErrorCode::UnknownApp(app.to_string()));
        }
        let placement = Placement::default();
        let mut acquirer = Acquirer::new(self, public_port, kind);
        loop {
            let (target, table) = acquirer.acquire(app, &placement).await?;
            let connect_timeout = acquirer.connect_timeout(&target.machine_id);
            let connected =
                tokio::time::timeout(connect_timeout, TcpStream::connect(target.upstream))
                    .await
                    .unwrap_or_else(|_| {
                        Err(io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))
                    });
            let machine_id = target.machine_id.clone();
            match connected {
                Ok(stream) => {
                    let _ = stream.set_nodelay(true);
                    let proxy_proto = table
                        .machines
                        .iter()
                        .find(|m| m.id == machine_id)
                        .and_then(|m| (kind.lookup)(m, public_port))
                        .and_then(|(_, port)| ProxyProtoVersion::of(port));
                    return Ok(Upstream {
                        stream,
                        machine_id,
                        proxy_proto,
                        _guard: target.guard,
                    });
                }
                Err(reason) => {
                    drop(target);
                    acquirer
                        .connect_failed(app, machine_id, &reason.to_string())
                        .await?;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hangar_types::MachineState;
    use std::net::IpAddr;

    fn route(handlers: &[&str]) -> MachineRoute {
        MachineRoute {
            id: "m".into(),
            app: "a".into(),
            region: "local".into(),
            state: MachineState::Started,
            address: IpAddr::from([127, 0, 0, 1]),
            cordoned: false,
            checks_passing: true,
            services: vec![MachineService {
                internal_port: 5432,
                ports: vec![MachinePort {
                    port: Some(5432),
                    handlers: handlers.iter().map(|h| h.to_string()).collect(),
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    #[test]
    fn tcp_services_lists_raw_and_proxy_proto_ports() {
        let mut raw = route(&[]);
        raw.services[0].ports.push(MachinePort {
            start_port: Some(6000),
            end_port: Some(6001),
            handlers: vec!["proxy_proto".into()],
            ..Default::default()
        });
        let mut http = route(&["http"]);
        http.app = "web".into();
        let mut gone = route(&[]);
        gone.app = "gone".into();
        gone.state = MachineState::Destroyed;
        let table = RouteTable::new(1, vec![raw, http, gone]);
        let expected: BTreeSet<_> = [
            ("a".to_string(), 5432),
            ("a".into(), 6000),
            ("a".into(), 6001),
        ]
        .into_iter()
        .collect();
        assert_eq!(table.tcp_services(), expected);
    }

    #[test]
    fn tls_service_takes_tls_without_http() {
        assert!(tls_service(&route(&["tls"]), 5432).is_some());
        assert!(tls_service(&route(&["tls", "proxy_proto"]), 5432).is_some());
        assert!(tls_service(&route(&["tls", "http"]), 5432).is_none());
        assert!(tls_service(&route(&[]), 5432).is_none());
        let table = RouteTable::new(1, vec![route(&["tls"]), route(&[])]);
        assert_eq!(table.tls_ports(), [5432].into_iter().collect());
    }

    #[test]
    fn tcp_service_takes_raw_and_proxy_proto_ports_only() {
        assert!(tcp_service(&route(&[]), 5432).is_some());
        assert!(tcp_service(&route(&["proxy_proto"]), 5432).is_some());
        assert!(tcp_service(&route(&[]), 5433).is_none());
        assert!(tcp_service(&route(&["tls"]), 5432).is_none());
        assert!(tcp_service(&route(&["tls", "http"]), 5432).is_none());
    }
}
