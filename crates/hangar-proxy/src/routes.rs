//! Route table snapshots: what the proxy knows of Machines.

use std::collections::BTreeMap;
use std::net::IpAddr;

use hangar_types::{MachinePort, MachineService, MachineState};

/// An immutable snapshot of every routable Machine, shared behind an `Arc`.
/// A newer snapshot carries a greater `generation`.
#[derive(Debug, Clone, Default)]
pub struct RouteTable {
    /// Increases with every snapshot the host publishes.
    pub generation: u64,
    /// Every Machine of every app, whatever its state.
    pub machines: Vec<MachineRoute>,
    /// App name → its primary region, where `min_machines_running` is
    /// enforced. Apps missing here use the proxy's own region.
    pub primary_regions: BTreeMap<String, String>,
    /// Custom hostname (lowercase, no trailing dot, e.g. `shop.example.com`)
    /// → the app it routes to, as added through the certificates API. Host
    /// and SNI routing accept these besides `<app>.<app_domain>`, and the
    /// ACME manager obtains a certificate for each one.
    pub custom_domains: BTreeMap<String, String>,
}

/// One Machine as the proxy sees it.
#[derive(Debug, Clone)]
pub struct MachineRoute {
    pub id: String,
    pub app: String,
    pub region: String,
    pub state: MachineState,
    /// Where the Machine's services listen (`address:internal_port`).
    pub address: IpAddr,
    /// Cordoned Machines get no traffic.
    pub cordoned: bool,
    /// False when a service check fails; such Machines get no traffic.
    pub checks_passing: bool,
    pub services: Vec<MachineService>,
}

impl RouteTable {
    /// A snapshot without primary regions.
    pub fn new(generation: u64, machines: Vec<MachineRoute>) -> Self {
        RouteTable {
            generation,
            machines,
            primary_regions: BTreeMap::new(),
            custom_domains: BTreeMap::new(),
        }
    }

    /// True when any Machine of `app` is in the table.
    pub fn has_app(&self, app: &str) -> bool {
        self.machines.iter().any(|m| m.app == app)
    }

    /// The port with an `http` handler that `app`'s Machines offer on
    /// `public_port` (its options are the app's for that port).
    pub fn http_port(&self, app: &str, public_port: u16) -> Option<&MachinePort> {
        self.machines
            .iter()
            .filter(|m| m.app == app)
            .find_map(|m| m.http_service(public_port))
            .map(|(_, port)| port)
    }

    /// The primary region of `app`, if the host named one.
    pub fn primary_region(&self, app: &str) -> Option<&str> {
        self.primary_regions.get(app).map(String::as_str)
    }
}

impl MachineRoute {
    /// The service with an `http` handler on `public_port`, and that port.
    pub fn http_service(&self, public_port: u16) -> Option<(&MachineService, &MachinePort)> {
        self.services.iter().find_map(|service| {
            service
                .ports
                .iter()
                .find(|p| port_matches(p, public_port) && p.handlers.iter().any(|h| h == "http"))
                .map(|p| (service, p))
        })
    }

    /// Takes new traffic: started, not cordoned, checks passing.
    pub fn is_routable(&self) -> bool {
        self.state == MachineState::Started && !self.cordoned && self.checks_passing
    }

    /// Can be woken by autostart.
    pub fn is_startable(&self) -> bool {
        matches!(
            self.state,
            MachineState::Stopped | MachineState::Suspended | MachineState::Created
        ) && !self.cordoned
    }
}

/// True when `port` covers `public_port` (a single port or a range).
pub(crate) fn port_matches(port: &MachinePort, public_port: u16) -> bool {
    let public_port = i64::from(public_port);
    match (port.port, port.start_port, port.end_port) {
        (Some(p), _, _) => p == public_port,
        (None, Some(start), Some(end)) => (start..=end).contains(&public_port),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn port(port: Option<i64>, range: Option<(i64, i64)>, handlers: &[&str]) -> MachinePort {
        MachinePort {
            port,
            start_port: range.map(|r| r.0),
            end_port: range.map(|r| r.1),
            handlers: handlers.iter().map(|h| h.to_string()).collect(),
            ..Default::default()
        }
    }

    fn machine(ports: Vec<MachinePort>) -> MachineRoute {
        MachineRoute {
            id: "m".into(),
            app: "a".into(),
            region: "ams".into(),
            state: MachineState::Started,
            address: IpAddr::from([127, 0, 0, 1]),
            cordoned: false,
            checks_passing: true,
            services: vec![MachineService {
                internal_port: 8080,
                ports,
                ..Default::default()
            }],
        }
    }

    #[test]
    fn http_service_needs_the_port_and_an_http_handler() {
        let m = machine(vec![
            port(Some(443), None, &["tls", "http"]),
            port(Some(5432), None, &["pg_tls"]),
            port(None, Some((9000, 9010)), &["http"]),
        ]);
        assert!(m.http_service(443).is_some());
        assert!(m.http_service(5432).is_none(), "no http handler");
        assert!(m.http_service(9005).is_some(), "inside the port range");
        assert!(m.http_service(9011).is_none());
        assert!(m.http_service(80).is_none());
    }

    #[test]
    fn routable_and_startable_states() {
        let mut m = machine(vec![]);
        assert!(m.is_routable());
        m.checks_passing = false;
        assert!(!m.is_routable());
        m.state = MachineState::Suspended;
        assert!(m.is_startable());
        m.cordoned = true;
        assert!(!m.is_startable());
        m.cordoned = false;
        m.state = MachineState::Destroyed;
        assert!(!m.is_startable());
    }
}
