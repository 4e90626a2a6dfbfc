//! PROXY protocol headers (versions 1 and 2), written to a Machine before
//! the client's bytes so that it learns the client's real addresses.

use std::net::{IpAddr, SocketAddr};

use hangar_types::MachinePort;

/// The 12 bytes every version 2 header starts with.
const V2_SIGNATURE: [u8; 12] = [
    0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A,
];
/// Version 2, command PROXY (a relayed connection).
const V2_VERSION_PROXY: u8 = 0x21;
/// Address family INET (IPv4) and transport STREAM (TCP).
const V2_TCP4: u8 = 0x11;
/// Address family INET6 (IPv6) and transport STREAM (TCP).
const V2_TCP6: u8 = 0x21;

/// Which PROXY protocol header a `proxy_proto` port wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ProxyProtoVersion {
    /// The human-readable text header (Fly's default).
    V1,
    /// The binary header (`proxy_proto_options.version = "v2"`).
    V2,
}

impl ProxyProtoVersion {
    /// The header version a port asks for, or `None` when the port has no
    /// `proxy_proto` handler.
    pub(crate) fn of(port: &MachinePort) -> Option<ProxyProtoVersion> {
        if !port.handlers.iter().any(|h| h == "proxy_proto") {
            return None;
        }
        let version = port
            .proxy_proto_options
            .as_ref()
            .and_then(|o| o.version.as_deref());
        Some(match version {
            Some("v2") => ProxyProtoVersion::V2,
            _ => ProxyProtoVersion::V1,
        })
    }
}

/// The header telling a Machine that `source` connected to `destination`.
pub(crate) fn header(
    version: ProxyProtoVersion,
    source: SocketAddr,
    destination: SocketAddr,
) -> Vec<u8> {
    let (source, destination) = same_family(source, destination);
    match version {
        ProxyProtoVersion::V1 => v1(source, destination).into_bytes(),
        ProxyProtoVersion::V2 => v2(source, destination),
    }
}

/// Both addresses in one family: IPv4 when both are IPv4 (IPv4-mapped IPv6
/// addresses from a dual-stack listener count as IPv4), IPv6 otherwise.
fn same_family(source: SocketAddr, destination: SocketAddr) -> (SocketAddr, SocketAddr) {
    let canonical = |a: SocketAddr| SocketAddr::new(a.ip().to_canonical(), a.port());
    let (source, destination) = (canonical(source), canonical(destination));
    if source.is_ipv4() == destination.is_ipv4() {
        return (source, destination);
    }
    let as_v6 = |a: SocketAddr| match a.ip() {
        IpAddr::V4(v4) => SocketAddr::new(IpAddr::V6(v4.to_ipv6_mapped()), a.port()),
        IpAddr::V6(_) => a,
    };
    (as_v6(source), as_v6(destination))
}

fn v1(source: SocketAddr, destination: SocketAddr) -> String {
    let family = if source.is_ipv4() { "TCP4" } else { "TCP6" };
    format!(
        "PROXY {family} {} {} {} {}\r\n",
        source.ip(),
        destination.ip(),
        source.port(),
        destination.port()
    )
}

fn v2(source: SocketAddr, destination: SocketAddr) -> Vec<u8> {
    let mut addresses = Vec::with_capacity(36);
    let family = match (source.ip(), destination.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            addresses.extend_from_slice(&s.octets());
            addresses.extend_from_slice(&d.octets());
            V2_TCP4
        }
        (s, d) => {
            addresses.extend_from_slice(&as_v6_octets(s));
            addresses.extend_from_slice(&as_v6_octets(d));
            V2_TCP6
        }
    };
    addresses.extend_from_slice(&source.port().to_be_bytes());
    addresses.extend_from_slice(&destination.port().to_be_bytes());

    let mut out = Vec::with_capacity(16 + addresses.len());
    out.extend_from_slice(&V2_SIGNATURE);
    out.push(V2_VERSION_PROXY);
    out.push(family);
    // At most 36 bytes of addresses: the length always fits.
    let length = u16::try_from(addresses.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&length.to_be_bytes());
    out.extend_from_slice(&addresses);
    out
}

fn as_v6_octets(ip: IpAddr) -> [u8; 16] {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hangar_types::ProxyProtoOptions;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn v1_ipv4_and_ipv6() {
        let h = header(
            ProxyProtoVersion::V1,
            addr("192.0.2.7:50000"),
            addr("198.51.100.1:5432"),
        );
        assert_eq!(h, b"PROXY TCP4 192.0.2.7 198.51.100.1 50000 5432\r\n");
        let h = header(
            ProxyProtoVersion::V1,
            addr("[2001:db8::7]:50000"),
            addr("[2001:db8::1]:443"),
        );
        assert_eq!(h, b"PROXY TCP6 2001:db8::7 2001:db8::1 50000 443\r\n");
    }

    #[test]
    fn mapped_addresses_are_ipv4_and_mixed_families_are_ipv6() {
        let h = header(
            ProxyProtoVersion::V1,
            addr("[::ffff:192.0.2.7]:1"),
            addr("[::ffff:192.0.2.8]:2"),
        );
        assert_eq!(h, b"PROXY TCP4 192.0.2.7 192.0.2.8 1 2\r\n");
        let h = header(
            ProxyProtoVersion::V1,
            addr("192.0.2.7:1"),
            addr("[2001:db8::1]:2"),
        );
        assert_eq!(h, b"PROXY TCP6 ::ffff:192.0.2.7 2001:db8::1 1 2\r\n");
    }

    #[test]
    fn v2_ipv4_bytes() {
        let h = header(
            ProxyProtoVersion::V2,
            addr("10.0.0.1:258"),
            addr("10.0.0.2:80"),
        );
        let mut expected = V2_SIGNATURE.to_vec();
        expected.extend_from_slice(&[0x21, 0x11, 0x00, 0x0C]);
        expected.extend_from_slice(&[10, 0, 0, 1, 10, 0, 0, 2, 0x01, 0x02, 0x00, 0x50]);
        assert_eq!(h, expected);
    }

    #[test]
    fn v2_ipv6_length() {
        let h = header(ProxyProtoVersion::V2, addr("[::1]:1"), addr("[::2]:2"));
        assert_eq!(h.len(), 16 + 36);
        assert_eq!(&h[12..16], &[0x21, 0x21, 0x00, 36]);
    }

    #[test]
    fn version_of_a_port() {
        let mut port = MachinePort {
            handlers: vec![],
            ..Default::default()
        };
        assert_eq!(ProxyProtoVersion::of(&port), None);
        port.handlers = vec!["proxy_proto".into()];
        assert_eq!(ProxyProtoVersion::of(&port), Some(ProxyProtoVersion::V1));
        port.proxy_proto_options = Some(ProxyProtoOptions {
            version: Some("v2".into()),
        });
        assert_eq!(ProxyProtoVersion::of(&port), Some(ProxyProtoVersion::V2));
    }
}
