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

/// Names of the headers set on every request, parsed once at compile time
/// rather than per request.
pub(crate) const FLY_CLIENT_IP: HeaderName = HeaderName::from_static("fly-client-ip");
const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_SSL: HeaderName = HeaderName::from_static("x-forwarded-ssl");
const X_FORWARDED_PORT: HeaderName = HeaderName::from_static("x-forwarded-port");
const FLY_FORWARDED_PORT: HeaderName = HeaderName::from_static("fly-forwarded-port");
const FLY_REGION: HeaderName = HeaderName::from_static("fly-region");
/// `fly-request-id`, set on every response.
pub(crate) const FLY_REQUEST_ID: HeaderName = HeaderName::from_static("fly-request-id");
/// Set only by the proxy: a request was replayed, or its replay fell back.
pub(crate) const FLY_REPLAY_SRC: HeaderName = HeaderName::from_static("fly-replay-src");
pub(crate) const FLY_REPLAY_FAILED: HeaderName = HeaderName::from_static("fly-replay-failed");

/// The `Via` entry for this hop, like `1.1 hangar`.
pub(crate) fn via_entry(version: Version) -> HeaderValue {
    HeaderValue::from_static(match version {
        Version::HTTP_10 => "1.0 hangar",
        Version::HTTP_2 => "2 hangar",
        Version::HTTP_3 => "3 hangar",
        _ => "1.1 hangar",
    })
}

/// A fresh `fly-request-id` value: a lowercase ULID, encoded on the stack.
pub(crate) fn request_id() -> Option<HeaderValue> {
    let mut buffer = [0u8; ulid::ULID_LEN];
    let id = ulid::Ulid::new().array_to_str(&mut buffer);
    id.make_ascii_lowercase();
    HeaderValue::from_str(id).ok()
}

/// Appends `entry` to a comma-separated header, or sets it.
fn append_list(headers: &mut HeaderMap, name: HeaderName, entry: HeaderValue) {
    let joined = match headers.get(&name).and_then(|v| v.to_str().ok()) {
        Some(existing) if !existing.trim().is_empty() => value(&format!(
            "{existing}, {}",
            entry.to_str().unwrap_or_default()
        )),
        _ => entry,
    };
    headers.insert(name, joined);
}

/// Sets the forwarding headers on a request going to a Machine.
pub(crate) fn add_forwarding(
    headers: &mut HeaderMap,
    client: ClientConn,
    region: &HeaderValue,
    version: Version,
) {
    let ip = value(&canonical_ip(client.peer.ip()).to_string());
    headers.insert(FLY_CLIENT_IP, ip.clone());
    append_list(headers, X_FORWARDED_FOR, ip);
    let (proto, ssl) = if client.tls {
        ("https", "on")
    } else {
        ("http", "off")
    };
    headers.insert(X_FORWARDED_PROTO, HeaderValue::from_static(proto));
    headers.insert(X_FORWARDED_SSL, HeaderValue::from_static(ssl));
    let port = HeaderValue::from(client.public_port);
    if !headers.contains_key(&X_FORWARDED_PORT) {
        headers.insert(X_FORWARDED_PORT, port.clone());
    }
    headers.insert(FLY_FORWARDED_PORT, port);
    headers.insert(FLY_REGION, region.clone());
    append_list(headers, hyper::header::VIA, via_entry(version));
}

/// An IPv4 client seen through a dual-stack socket, as IPv4.
pub(crate) fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// Hop-by-hop headers, which are never forwarded.
const HOP_BY_HOP: [HeaderName; 9] = [
    hyper::header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    hyper::header::PROXY_AUTHENTICATE,
    hyper::header::PROXY_AUTHORIZATION,
    hyper::header::TE,
    hyper::header::TRAILER,
    hyper::header::TRANSFER_ENCODING,
    hyper::header::UPGRADE,
];

/// True for a header that is never forwarded (the [`HOP_BY_HOP`] list),
/// whatever its case.
pub(crate) fn is_hop_by_hop(name: &[u8]) -> bool {
    HOP_BY_HOP
        .iter()
        .any(|h| name.eq_ignore_ascii_case(h.as_str().as_bytes()))
}

/// Removes the hop-by-hop headers and those the `Connection` header names.
pub(crate) fn strip_hop_by_hop(headers: &mut HeaderMap) {
    if !headers.contains_key(hyper::header::CONNECTION) {
        for name in HOP_BY_HOP {
            headers.remove(name);
        }
        return;
    }
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
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
}
