//! A client's request head as the lean path reads it: parsed in place
//! (positions into the connection's buffer, no copies), checked for what
//! the lean path serves, and rewritten for the Machine in one buffer.

use std::ops::Range;

use crate::headers::ClientConn;

/// At most this many request headers; more send the request to hyper.
const MAX_HEADERS: usize = 64;

/// What reading the start of the buffer found.
pub(crate) enum Parsed {
    /// The head is not complete yet.
    Partial,
    /// A request the lean path serves.
    Head(RequestHead),
    /// Anything else (HTTP/1.0, h2c, an upgrade, chunked or `Expect`
    /// bodies, placement headers, a malformed head): hyper serves it.
    NotLean,
}

/// What the lean path does with a request header.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Treatment {
    /// Forwarded as it is.
    Keep,
    /// Not forwarded: hop-by-hop, or set by the proxy itself.
    Drop,
    /// Forwarded with this hop appended (`X-Forwarded-For`, `Via`).
    Append,
}

/// One header: where its name and value are in the buffer.
struct HeaderAt {
    name: Range<usize>,
    value: Range<usize>,
    treatment: Treatment,
}

/// A parsed request head; every range indexes the buffer it was parsed
/// from.
pub(crate) struct RequestHead {
    /// Length of the head, blank line included; the body follows.
    pub(crate) head_len: usize,
    pub(crate) content_length: usize,
    method: Range<usize>,
    path: Range<usize>,
    host: Range<usize>,
    headers: Vec<HeaderAt>,
    /// The client asked to close the connection after this request.
    pub(crate) close: bool,
    /// The request carries `X-Forwarded-Port` (kept rather than set).
    has_forwarded_port: bool,
}

/// The request's method and path, borrowed from the buffer.
pub(crate) struct Target<'b> {
    pub(crate) method: &'b [u8],
    pub(crate) path: &'b str,
    pub(crate) host: &'b str,
}

/// Parses the request head at the start of `buf`.
pub(crate) fn parse(buf: &[u8]) -> Parsed {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    let head_len = match request.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Parsed::Partial,
        Err(_) => return Parsed::NotLean,
    };
    let (Some(method), Some(path), Some(1)) = (request.method, request.path, request.version)
    else {
        return Parsed::NotLean;
    };
    if method == "CONNECT" || !path.starts_with('/') {
        return Parsed::NotLean;
    }
    let at = |s: &[u8]| {
        let start = s.as_ptr() as usize - buf.as_ptr() as usize;
        start..start + s.len()
    };
    let mut head = RequestHead {
        head_len,
        content_length: 0,
        method: at(method.as_bytes()),
        path: at(path.as_bytes()),
        host: 0..0,
        headers: Vec::with_capacity(request.headers.len()),
        close: false,
        has_forwarded_port: false,
    };
    let mut seen_length = false;
    let (mut seen_forwarded_for, mut seen_via) = (false, false);
    for header in request.headers.iter() {
        let mut lower = [0u8; 40];
        let Some(name) = lower.get_mut(..header.name.len()) else {
            // A long name is no header the proxy acts on.
            head.headers.push(HeaderAt {
                name: at(header.name.as_bytes()),
                value: at(header.value),
                treatment: Treatment::Keep,
            });
            continue;
        };
        name.copy_from_slice(header.name.as_bytes());
        name.make_ascii_lowercase();
        let treatment = match &*name {
            b"host" => {
                if !head.host.is_empty() || header.value.is_empty() {
                    return Parsed::NotLean;
                }
                head.host = at(header.value);
                Treatment::Keep
            }
            b"content-length" => {
                let Some(length) = content_length(header.value) else {
                    return Parsed::NotLean;
                };
                if seen_length && length != head.content_length {
                    return Parsed::NotLean;
                }
                seen_length = true;
                head.content_length = length;
                Treatment::Keep
            }
            b"connection" => {
                for token in header.value.split(|b| *b == b',') {
                    let token = token.trim_ascii();
                    if token.eq_ignore_ascii_case(b"close") {
                        head.close = true;
                    } else if !token.eq_ignore_ascii_case(b"keep-alive") && !token.is_empty() {
                        // Names other headers as hop-by-hop.
                        return Parsed::NotLean;
                    }
                }
                Treatment::Drop
            }
            b"transfer-encoding"
            | b"upgrade"
            | b"expect"
            | b"fly-prefer-region"
            | b"fly-force-region"
            | b"fly-prefer-instance-id"
            | b"fly-force-instance-id" => return Parsed::NotLean,
            b"x-forwarded-for" | b"via" => {
                let seen = if &*name == b"via" {
                    &mut seen_via
                } else {
                    &mut seen_forwarded_for
                };
                if std::mem::replace(seen, true) {
                    return Parsed::NotLean;
                }
                Treatment::Append
            }
            b"x-forwarded-port" => {
                head.has_forwarded_port = true;
                Treatment::Keep
            }
            name if crate::headers::is_hop_by_hop(name) => Treatment::Drop,
            b"fly-replay-src"
            | b"fly-replay-failed"
            | b"fly-replay-cache-control"
            | b"fly-replay-cache-status"
            | b"fly-client-ip"
            | b"x-forwarded-proto"
            | b"x-forwarded-ssl"
            | b"fly-forwarded-port"
            | b"fly-region" => Treatment::Drop,
            _ => Treatment::Keep,
        };
        head.headers.push(HeaderAt {
            name: at(header.name.as_bytes()),
            value: at(header.value),
            treatment,
        });
    }
    if head.host.is_empty() {
        return Parsed::NotLean;
    }
    Parsed::Head(head)
}

/// A `Content-Length` value: digits only (RFC 9110 §8.6; `+5` or `5 5`,
/// which some parsers take and others refuse, would let the proxy and the
/// Machine disagree on where a request ends).
pub(crate) fn content_length(value: &[u8]) -> Option<usize> {
    let digits = value.trim_ascii();
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// The text of `range` in `buf`; parsing checked it is a token or a path.
fn text<'b>(buf: &'b [u8], range: &Range<usize>) -> &'b str {
    std::str::from_utf8(&buf[range.clone()]).unwrap_or_default()
}

impl RequestHead {
    /// Method, path and Host of the request in `buf`.
    pub(crate) fn target<'b>(&self, buf: &'b [u8]) -> Target<'b> {
        Target {
            method: &buf[self.method.clone()],
            path: text(buf, &self.path),
            host: text(buf, &self.host),
        }
    }

    /// True for methods a Machine may be sent twice (RFC 9110 §9.2.2).
    pub(crate) fn is_idempotent(&self, buf: &[u8]) -> bool {
        matches!(
            &buf[self.method.clone()],
            b"GET" | b"HEAD" | b"OPTIONS" | b"TRACE" | b"PUT" | b"DELETE"
        )
    }

    /// Appends the request as it goes to a Machine to `out`: the client's
    /// headers without hop-by-hop ones, the forwarding headers of
    /// reference §6.5, then the body.
    pub(crate) fn write_upstream(&self, buf: &[u8], hop: &Hop<'_>, out: &mut Vec<u8>) {
        out.extend_from_slice(&buf[self.method.clone()]);
        out.push(b' ');
        out.extend_from_slice(&buf[self.path.clone()]);
        out.extend_from_slice(b" HTTP/1.1\r\n");
        let (mut forwarded_for, mut via) = (false, false);
        for header in &self.headers {
            if header.treatment == Treatment::Drop {
                continue;
            }
            let name = &buf[header.name.clone()];
            out.extend_from_slice(name);
            out.extend_from_slice(b": ");
            let value = buf[header.value.clone()].trim_ascii();
            out.extend_from_slice(value);
            if header.treatment == Treatment::Append {
                let entry = if name.eq_ignore_ascii_case(b"via") {
                    via = true;
                    b"1.1 hangar".as_slice()
                } else {
                    forwarded_for = true;
                    hop.client_ip.as_bytes()
                };
                if !value.is_empty() {
                    out.extend_from_slice(b", ");
                }
                out.extend_from_slice(entry);
            }
            out.extend_from_slice(b"\r\n");
        }
        for (name, value) in [
            (b"fly-client-ip".as_slice(), hop.client_ip),
            (b"x-forwarded-proto", if hop.tls { "https" } else { "http" }),
            (b"x-forwarded-ssl", if hop.tls { "on" } else { "off" }),
            (b"fly-forwarded-port", hop.public_port),
            (b"fly-region", hop.region),
        ] {
            push_header(out, name, value.as_bytes());
        }
        if !self.has_forwarded_port {
            push_header(out, b"x-forwarded-port", hop.public_port.as_bytes());
        }
        if !forwarded_for {
            push_header(out, b"x-forwarded-for", hop.client_ip.as_bytes());
        }
        if !via {
            push_header(out, b"via", b"1.1 hangar");
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&buf[self.head_len..self.head_len + self.content_length]);
    }

    /// The client's headers as a hyper header map (for the requests the
    /// lean path hands to the general one midway).
    pub(crate) fn header_map(&self, buf: &[u8]) -> hyper::HeaderMap {
        let mut map = hyper::HeaderMap::with_capacity(self.headers.len());
        for header in &self.headers {
            let name = hyper::header::HeaderName::from_bytes(&buf[header.name.clone()]);
            let value = hyper::header::HeaderValue::from_bytes(&buf[header.value.clone()]);
            if let (Ok(name), Ok(value)) = (name, value) {
                map.append(name, value);
            }
        }
        map
    }
}

/// What the proxy adds to every request on one client connection, made
/// once per connection.
pub(crate) struct Hop<'a> {
    pub(crate) client_ip: &'a str,
    pub(crate) public_port: &'a str,
    pub(crate) region: &'a str,
    pub(crate) tls: bool,
}

impl Hop<'_> {
    /// The client's address as sent in `Fly-Client-IP` (IPv4 seen through
    /// a dual-stack socket as IPv4).
    pub(crate) fn client_ip_of(client: &ClientConn) -> String {
        crate::headers::canonical_ip(client.peer.ip()).to_string()
    }
}

pub(crate) fn push_header(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(raw: &[u8]) -> RequestHead {
        match parse(raw) {
            Parsed::Head(head) => head,
            Parsed::Partial => panic!("partial"),
            Parsed::NotLean => panic!("not lean"),
        }
    }

    fn upstream(raw: &[u8]) -> String {
        let hop = Hop {
            client_ip: "192.0.2.7",
            public_port: "80",
            region: "ams",
            tls: false,
        };
        let mut out = Vec::new();
        head(raw).write_upstream(raw, &hop, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn forwarding_headers_are_added_and_hop_by_hop_ones_dropped() {
        let sent = upstream(
            b"GET /a?b=1 HTTP/1.1\r\nHost: web.localhost\r\nConnection: keep-alive\r\n\
              Keep-Alive: timeout=5\r\nFly-Client-IP: 10.9.9.9\r\nX-Forwarded-For: 203.0.113.1\r\n\r\n",
        );
        assert!(sent.starts_with("GET /a?b=1 HTTP/1.1\r\nHost: web.localhost\r\n"));
        assert!(!sent.to_ascii_lowercase().contains("keep-alive"), "{sent}");
        assert!(
            !sent.contains("10.9.9.9"),
            "client's Fly-Client-IP kept: {sent}"
        );
        assert!(sent.contains("X-Forwarded-For: 203.0.113.1, 192.0.2.7\r\n"));
        for line in [
            "fly-client-ip: 192.0.2.7",
            "x-forwarded-proto: http",
            "x-forwarded-ssl: off",
            "x-forwarded-port: 80",
            "fly-forwarded-port: 80",
            "fly-region: ams",
            "via: 1.1 hangar",
        ] {
            assert!(
                sent.contains(&format!("{line}\r\n")),
                "{line} missing: {sent}"
            );
        }
        assert!(sent.ends_with("\r\n\r\n"));
    }

    #[test]
    fn the_body_follows_the_head() {
        let raw = b"POST /p HTTP/1.1\r\nHost: a.localhost\r\nContent-Length: 5\r\n\r\nhelloGET";
        let head = head(raw);
        assert_eq!(head.content_length, 5);
        assert!(upstream(raw).ends_with("\r\n\r\nhello"));
    }

    #[test]
    fn requests_the_lean_path_does_not_serve_go_to_hyper() {
        for raw in [
            &b"GET / HTTP/1.0\r\nHost: a\r\n\r\n"[..],
            b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\nFly-Prefer-Region: ams\r\n\r\n",
            b"GET / HTTP/1.1\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            b"GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\nConnection: x-secret\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\nhello",
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5 5\r\n\r\nhello",
        ] {
            assert!(
                matches!(parse(raw), Parsed::NotLean),
                "{}",
                String::from_utf8_lossy(raw)
            );
        }
        assert!(matches!(
            parse(b"GET / HTTP/1.1\r\nHost: a\r\n"),
            Parsed::Partial
        ));
    }

    #[test]
    fn connection_close_is_noted() {
        assert!(head(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n").close);
        assert!(!head(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n").close);
    }
}
