//! Headers the `http` handler adds (reference §6.5).

use std::net::{IpAddr, SocketAddr};

use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use hyper::Version;

/// What the proxy knows of the client's connection.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClientConn {
    pub(crate) peer: SocketAddr,
    /// The public port the client connected to.
    pub(crate) public_port: u16,
    /// True when the client connection was TLS.
    pub(crate) tls: bool,
}

fn value(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The `Via` entry for this hop, like `1.1 hangar`.
pub(crate) fn via_entry(version: Version) -> HeaderValue {
    let v = match version {
        Version::HTTP_10 => "1.0",
        Version::HTTP_2 => "2",
        Version::HTTP_3 => "3",
        _ => "1.1",
    };
    value(&format!("{v} hangar"))
}

/// Appends `entry` to a comma-separated header, or sets it.
fn append_list(headers: &mut HeaderMap, name: HeaderName, entry: &str) {
    let joined = match headers.get(&name).and_then(|v| v.to_str().ok()) {
        Some(existing) if !existing.trim().is_empty() => format!("{existing}, {entry}"),
        _ => entry.to_string(),
    };
    headers.insert(name, value(&joined));
}

/// Sets the forwarding headers on a request going to a Machine.
pub(crate) fn add_forwarding(
    headers: &mut HeaderMap,
    client: ClientConn,
    region: &str,
    version: Version,
) {
    let ip = canonical_ip(client.peer.ip()).to_string();
    headers.insert("fly-client-ip", value(&ip));
    append_list(headers, HeaderName::from_static("x-forwarded-for"), &ip);
    let (proto, ssl) = if client.tls {
        ("https", "on")
    } else {
        ("http", "off")
    };
    headers.insert("x-forwarded-proto", HeaderValue::from_static(proto));
    headers.insert("x-forwarded-ssl", HeaderValue::from_static(ssl));
    let port = client.public_port.to_string();
    if !headers.contains_key("x-forwarded-port") {
        headers.insert("x-forwarded-port", value(&port));
    }
    headers.insert("fly-forwarded-port", value(&port));
    headers.insert("fly-region", value(region));
    let via = via_entry(version);
    append_list(
        headers,
        hyper::header::VIA,
        via.to_str().unwrap_or("1.1 hangar"),
    );
}

/// An IPv4 client seen through a dual-stack socket, as IPv4.
fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// Hop-by-hop headers, which are never forwarded.
pub(crate) fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named_in_connection: Vec<HeaderName> = headers
        .get_all(hyper::header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in named_in_connection {
        headers.remove(name);
    }
    for name in [
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    ] {
        headers.remove(name);
    }
}
