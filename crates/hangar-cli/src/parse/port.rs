//! `--port`: flyctl's `PORT[:MACHINE_PORT][/PROTOCOL[:HANDLER...]]`.
//!
//! - `8080` publishes 8080 and forwards to 8080 on the machine, over TCP;
//! - `80:8080/tcp:http` publishes 80 with the `http` handler, to 8080;
//! - `443:8080/tcp:http:tls` stacks handlers;
//! - `8000-8009:8000/tcp` publishes a range of ports to one machine port;
//! - `53/udp` for UDP (no handlers).
//!
//! Mappings to the same machine port and protocol become one service.

use std::str::FromStr;

use hangar_types::{MachinePort, MachineService};

/// Handlers the proxy knows.
pub const HANDLERS: [&str; 5] = ["http", "tls", "pg_tls", "proxy_proto", "edge_http"];

/// The public side of a mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EdgePorts {
    Single(u16),
    Range { start: u16, end: u16 },
}

/// Transport protocol of a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    Tcp,
    Udp,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        }
    }
}

/// One `--port` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortMapping {
    pub edge: EdgePorts,
    pub internal_port: u16,
    pub protocol: Protocol,
    pub handlers: Vec<String>,
}

/// A `--port` value that cannot be read.
#[derive(Debug, thiserror::Error)]
#[error(
    "invalid port {input:?}: {reason}; use PORT[:MACHINE_PORT][/PROTOCOL[:HANDLER...]], \
     for example 8080, 80:8080/tcp:http or 443:8080/tcp:http:tls"
)]
pub struct PortSpecError {
    input: String,
    reason: String,
}

impl FromStr for PortMapping {
    type Err = PortSpecError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let error = |reason: String| PortSpecError {
            input: input.to_string(),
            reason,
        };
        let (ports, protocol_part) = match input.trim().split_once('/') {
            Some((ports, rest)) => (ports, Some(rest)),
            None => (input.trim(), None),
        };

        let (edge_text, internal_text) = match ports.split_once(':') {
            Some((edge, internal)) => (edge, Some(internal)),
            None => (ports, None),
        };
        let edge = parse_edge(edge_text).map_err(&error)?;
        let internal_port = match (internal_text, edge) {
            (Some(text), _) => parse_port_number(text).map_err(&error)?,
            (None, EdgePorts::Single(port)) => port,
            (None, EdgePorts::Range { .. }) => {
                return Err(error(
                    "a port range needs the machine port it forwards to, as in 8000-8009:8000"
                        .into(),
                ))
            }
        };

        let (protocol, handlers) = match protocol_part {
            None => (Protocol::Tcp, Vec::new()),
            Some(text) => {
                let mut parts = text.split(':');
                let protocol = match parts.next().unwrap_or("").to_ascii_lowercase().as_str() {
                    "tcp" => Protocol::Tcp,
                    "udp" => Protocol::Udp,
                    "" => return Err(error("the protocol after '/' is empty".into())),
                    other => return Err(error(format!("protocol {other:?} is not tcp or udp"))),
                };
                let handlers = parts
                    .map(|handler| {
                        let handler = handler.to_ascii_lowercase();
                        if HANDLERS.contains(&handler.as_str()) {
                            Ok(handler)
                        } else {
                            Err(error(format!(
                                "handler {handler:?} is not one of {}",
                                HANDLERS.join(", ")
                            )))
                        }
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                (protocol, handlers)
            }
        };
        if protocol == Protocol::Udp && !handlers.is_empty() {
            return Err(error("udp ports take no handlers".into()));
        }

        Ok(PortMapping {
            edge,
            internal_port,
            protocol,
            handlers,
        })
    }
}

fn parse_port_number(text: &str) -> Result<u16, String> {
    match text.trim().parse::<u16>() {
        Ok(0) => Err("port 0 is not a port".into()),
        Ok(port) => Ok(port),
        Err(_) if text.trim().is_empty() => Err("a port number is missing".into()),
        Err(_) => Err(format!("{text:?} is not a port number (1-65535)")),
    }
}

fn parse_edge(text: &str) -> Result<EdgePorts, String> {
    match text.split_once('-') {
        None => parse_port_number(text).map(EdgePorts::Single),
        Some((start, end)) => {
            let start = parse_port_number(start)?;
            let end = parse_port_number(end)?;
            if start >= end {
                return Err(format!(
                    "the range {start}-{end} must go from a lower to a higher port"
                ));
            }
            Ok(EdgePorts::Range { start, end })
        }
    }
}

impl PortMapping {
    fn machine_port(&self) -> MachinePort {
        let (port, start_port, end_port) = match self.edge {
            EdgePorts::Single(port) => (Some(i64::from(port)), None, None),
            EdgePorts::Range { start, end } => (None, Some(i64::from(start)), Some(i64::from(end))),
        };
        MachinePort {
            port,
            start_port,
            end_port,
            handlers: self.handlers.clone(),
            ..MachinePort::default()
        }
    }
}

/// Groups mappings into services: one per (protocol, machine port), in the
/// order first seen.
pub fn services_from_ports(ports: &[PortMapping]) -> Vec<MachineService> {
    let mut services: Vec<MachineService> = Vec::new();
    for mapping in ports {
        let internal_port = i64::from(mapping.internal_port);
        let protocol = mapping.protocol.as_str();
        match services
            .iter_mut()
            .find(|s| s.internal_port == internal_port && s.protocol == protocol)
        {
            Some(service) => service.ports.push(mapping.machine_port()),
            None => services.push(MachineService {
                protocol: protocol.to_string(),
                internal_port,
                ports: vec![mapping.machine_port()],
                ..MachineService::default()
            }),
        }
    }
    services
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(input: &str) -> PortMapping {
        input.parse().unwrap_or_else(|e| panic!("{input}: {e}"))
    }

    #[test]
    fn a_bare_port_maps_to_itself_over_tcp() {
        assert_eq!(
            parse("8080"),
            PortMapping {
                edge: EdgePorts::Single(8080),
                internal_port: 8080,
                protocol: Protocol::Tcp,
                handlers: vec![],
            }
        );
    }

    #[test]
    fn flyctl_forms() {
        let http = parse("8080/tcp:http");
        assert_eq!(http.edge, EdgePorts::Single(8080));
        assert_eq!(http.internal_port, 8080);
        assert_eq!(http.handlers, ["http"]);

        let tls = parse("443:8080/tcp:http:tls");
        assert_eq!(tls.edge, EdgePorts::Single(443));
        assert_eq!(tls.internal_port, 8080);
        assert_eq!(tls.handlers, ["http", "tls"]);

        let mapped = parse("80:8080");
        assert_eq!(
            (mapped.edge, mapped.internal_port),
            (EdgePorts::Single(80), 8080)
        );

        let pg = parse("5432/TCP:pg_tls");
        assert_eq!(pg.handlers, ["pg_tls"]);

        let dns = parse("53/udp");
        assert_eq!(dns.protocol, Protocol::Udp);

        let range = parse("8000-8009:8000/tcp");
        assert_eq!(
            range.edge,
            EdgePorts::Range {
                start: 8000,
                end: 8009
            }
        );
        assert_eq!(range.internal_port, 8000);
    }

    #[test]
    fn bad_ports_explain_the_format() {
        for (bad, reason) in [
            ("", "missing"),
            ("http", "not a port number"),
            ("0", "port 0"),
            ("70000", "not a port number"),
            ("80:", "missing"),
            ("80/", "protocol after '/' is empty"),
            ("80/sctp", "not tcp or udp"),
            ("80/tcp:gzip", "handler \"gzip\""),
            ("53/udp:http", "udp ports take no handlers"),
            ("8000-8009", "needs the machine port"),
            ("9000-8000:80", "lower to a higher"),
            ("1:2:3", "not a port number"),
        ] {
            let message = bad.parse::<PortMapping>().unwrap_err().to_string();
            assert!(message.contains(reason), "{bad:?}: {message}");
            assert!(message.contains("80:8080/tcp:http"), "{bad:?}: {message}");
        }
    }

    #[test]
    fn mappings_to_one_machine_port_share_a_service() {
        let services = services_from_ports(&[
            parse("80:8080/tcp:http"),
            parse("443:8080/tcp:http:tls"),
            parse("9090"),
            parse("53/udp"),
        ]);
        assert_eq!(services.len(), 3);
        assert_eq!(services[0].internal_port, 8080);
        assert_eq!(services[0].protocol, "tcp");
        let edge: Vec<_> = services[0].ports.iter().map(|p| p.port).collect();
        assert_eq!(edge, [Some(80), Some(443)]);
        assert_eq!(services[0].ports[1].handlers, ["http", "tls"]);
        assert_eq!(services[1].internal_port, 9090);
        assert_eq!(services[2].protocol, "udp");

        let json = serde_json::to_value(&services[0]).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "protocol": "tcp",
                "internal_port": 8080,
                "ports": [
                    {"port": 80, "handlers": ["http"]},
                    {"port": 443, "handlers": ["http", "tls"]}
                ]
            })
        );
    }
}
