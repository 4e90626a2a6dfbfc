//! A Machine's response as the lean path reads it: the head parsed in
//! place and rewritten for the client, the body forwarded as it comes with
//! its framing tracked (so the end of the response, and with it whether the
//! connection can be reused, is known without decoding it).

use std::ops::Range;

/// At most this many response headers; more fail the response.
const MAX_HEADERS: usize = 100;

/// How the end of a response body is found (RFC 9112 §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// No body (HEAD, 1xx, 204, 304).
    Empty,
    /// `Content-Length` bytes.
    Length(u64),
    /// Chunked; forwarded as it is.
    Chunked,
    /// Until the Machine closes the connection.
    UntilClose,
}

/// What reading the start of the buffer found.
pub(crate) enum Parsed {
    Partial,
    Head(ResponseHead),
    /// Not a response the proxy can pass on.
    Invalid(String),
}

/// A parsed response head; ranges index the buffer it was parsed from.
pub(crate) struct ResponseHead {
    pub(crate) head_len: usize,
    pub(crate) status: u16,
    reason: Range<usize>,
    headers: Vec<(Range<usize>, Range<usize>, bool)>,
    pub(crate) framing: Framing,
    /// The Machine will close the connection after this response.
    pub(crate) close: bool,
    /// The Machine asks for the request to be replayed (`fly-replay`, or
    /// the JSON form's content type).
    pub(crate) replay: bool,
    /// The Machine asks for the replay cache entry to be dropped.
    pub(crate) invalidates_replay_cache: bool,
    has_server: bool,
}

/// Parses the response head at the start of `buf`, to a request whose
/// method was HEAD when `head_request`.
pub(crate) fn parse(buf: &[u8], head_request: bool) -> Parsed {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    let head_len = match response.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Parsed::Partial,
        Err(error) => return Parsed::Invalid(format!("bad response head: {error}")),
    };
    let (Some(version), Some(status)) = (response.version, response.code) else {
        return Parsed::Invalid("bad response head".to_string());
    };
    let at = |s: &[u8]| {
        let start = s.as_ptr() as usize - buf.as_ptr() as usize;
        start..start + s.len()
    };
    let mut head = ResponseHead {
        head_len,
        status,
        reason: at(response.reason.unwrap_or_default().as_bytes()),
        headers: Vec::with_capacity(response.headers.len()),
        framing: Framing::UntilClose,
        close: version == 0,
        replay: false,
        invalidates_replay_cache: false,
        has_server: false,
    };
    let mut length: Option<u64> = None;
    let mut chunked = false;
    let mut encoded = false;
    for header in response.headers.iter() {
        let name = header.name;
        let value = header.value;
        let mut forward = true;
        if name.eq_ignore_ascii_case("content-length") {
            let parsed = super::request::content_length(value).map(|n| n as u64);
            match (parsed, length) {
                (Some(n), None) => length = Some(n),
                (Some(n), Some(m)) if n == m => {}
                _ => return Parsed::Invalid("bad content-length in response".to_string()),
            }
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            encoded = true;
            chunked = value
                .rsplit(|b| *b == b',')
                .next()
                .is_some_and(|last| last.trim_ascii().eq_ignore_ascii_case(b"chunked"));
        } else if name.eq_ignore_ascii_case("connection") {
            forward = false;
            for token in value.split(|b| *b == b',') {
                let token = token.trim_ascii();
                if token.eq_ignore_ascii_case(b"close") {
                    head.close = true;
                } else if token.eq_ignore_ascii_case(b"keep-alive") && version == 0 {
                    head.close = false;
                }
            }
        } else if crate::headers::is_hop_by_hop(name.as_bytes()) {
            // `Transfer-Encoding` (forwarded with the chunks as they are)
            // and `Connection` are handled above.
            forward = false;
        } else if name.eq_ignore_ascii_case("fly-replay") {
            head.replay = true;
        } else if name.eq_ignore_ascii_case("content-type") {
            head.replay |= value
                .trim_ascii_start()
                .starts_with(crate::replay::REPLAY_JSON.as_bytes());
        } else if name.eq_ignore_ascii_case("fly-replay-cache") {
            if value.trim_ascii().eq_ignore_ascii_case(b"invalidate") {
                head.invalidates_replay_cache = true;
                forward = false;
            }
        } else if name.eq_ignore_ascii_case("server") {
            head.has_server = true;
        }
        head.headers.push((at(name.as_bytes()), at(value), forward));
    }
    head.framing = if head_request || status < 200 || status == 204 || status == 304 {
        Framing::Empty
    } else if encoded {
        if chunked {
            Framing::Chunked
        } else {
            Framing::UntilClose
        }
    } else if let Some(length) = length {
        Framing::Length(length)
    } else {
        Framing::UntilClose
    };
    if head.framing == Framing::UntilClose {
        head.close = true;
    }
    Parsed::Head(head)
}

impl ResponseHead {
    /// Appends the head as it goes to the client: hop-by-hop headers
    /// dropped; `Via`, `Fly-Request-Id` and (when the Machine sent none)
    /// `Server` added; `Connection: close` when `closing`.
    pub(crate) fn write_client(
        &self,
        buf: &[u8],
        request_id: &[u8],
        closing: bool,
        out: &mut Vec<u8>,
    ) {
        out.extend_from_slice(b"HTTP/1.1 ");
        out.extend_from_slice(&itoa_status(self.status));
        out.push(b' ');
        out.extend_from_slice(&buf[self.reason.clone()]);
        out.extend_from_slice(b"\r\n");
        for (name, value, forward) in &self.headers {
            if *forward {
                super::request::push_header(out, &buf[name.clone()], &buf[value.clone()]);
            }
        }
        super::request::push_header(out, b"via", b"1.1 hangar");
        super::request::push_header(out, b"fly-request-id", request_id);
        if !self.has_server {
            super::request::push_header(out, b"server", b"hangar");
        }
        if closing {
            super::request::push_header(out, b"connection", b"close");
        }
        out.extend_from_slice(b"\r\n");
    }

    /// The head as a hyper response with no body yet (for a replay, which
    /// the general path follows).
    pub(crate) fn to_hyper(&self, buf: &[u8]) -> hyper::http::response::Builder {
        let mut builder = hyper::Response::builder().status(self.status);
        for (name, value, forward) in &self.headers {
            if *forward {
                builder = builder.header(&buf[name.clone()], &buf[value.clone()]);
            }
        }
        builder
    }
}

/// A status code as three ASCII digits.
fn itoa_status(status: u16) -> [u8; 3] {
    let status = status.min(999);
    [
        b'0' + (status / 100) as u8,
        b'0' + (status / 10 % 10) as u8,
        b'0' + (status % 10) as u8,
    ]
}

/// Follows a chunked body through the bytes that pass, to find its end.
#[derive(Debug, Default)]
pub(crate) struct ChunkedEnd {
    state: ChunkState,
    /// The chunk-size line read so far (it may arrive split).
    line: Vec<u8>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum ChunkState {
    /// Reading a chunk-size line.
    #[default]
    Size,
    /// Inside chunk data, this many bytes left, then CRLF.
    Data(u64),
    /// The CRLF after chunk data: this many bytes of it left.
    DataEnd(u8),
    /// Reading trailer lines after the last chunk; true at a line start.
    Trailers(bool),
    /// The body has ended.
    Done,
}

/// At most this long a chunk-size line (with extensions) or trailer line.
const MAX_CHUNK_LINE: usize = 4096;

impl ChunkedEnd {
    /// Feeds bytes of the body; returns how many of them belong to it once
    /// its end is among them (`None` while the body goes on).
    pub(crate) fn feed(&mut self, bytes: &[u8]) -> Result<Option<usize>, String> {
        let mut at = 0;
        while at < bytes.len() {
            match self.state {
                ChunkState::Size => {
                    let Some(newline) = bytes[at..].iter().position(|b| *b == b'\n') else {
                        self.line.extend_from_slice(&bytes[at..]);
                        if self.line.len() > MAX_CHUNK_LINE {
                            return Err("chunk size line too long".to_string());
                        }
                        return Ok(None);
                    };
                    self.line.extend_from_slice(&bytes[at..at + newline + 1]);
                    at += newline + 1;
                    let size = match httparse::parse_chunk_size(&self.line) {
                        Ok(httparse::Status::Complete((_, size))) => size,
                        _ => return Err("bad chunk size line".to_string()),
                    };
                    self.line.clear();
                    self.state = if size == 0 {
                        ChunkState::Trailers(true)
                    } else {
                        ChunkState::Data(size)
                    };
                }
                ChunkState::Data(left) => {
                    let take = left.min((bytes.len() - at) as u64);
                    at += take as usize;
                    self.state = if take == left {
                        ChunkState::DataEnd(2)
                    } else {
                        ChunkState::Data(left - take)
                    };
                }
                ChunkState::DataEnd(left) => {
                    at += 1;
                    self.state = if left == 1 {
                        ChunkState::Size
                    } else {
                        ChunkState::DataEnd(left - 1)
                    };
                }
                ChunkState::Trailers(line_start) => {
                    let byte = bytes[at];
                    at += 1;
                    if byte == b'\n' {
                        if line_start {
                            self.state = ChunkState::Done;
                            return Ok(Some(at));
                        }
                        self.state = ChunkState::Trailers(true);
                        self.line.clear();
                    } else if byte != b'\r' {
                        self.line.push(byte);
                        if self.line.len() > MAX_CHUNK_LINE {
                            return Err("trailer line too long".to_string());
                        }
                        self.state = ChunkState::Trailers(false);
                    }
                }
                ChunkState::Done => return Ok(Some(at)),
            }
        }
        Ok((self.state == ChunkState::Done).then_some(at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(raw: &[u8]) -> ResponseHead {
        match parse(raw, false) {
            Parsed::Head(head) => head,
            Parsed::Partial => panic!("partial"),
            Parsed::Invalid(e) => panic!("{e}"),
        }
    }

    #[test]
    fn framing_follows_rfc_9112() {
        let of = |raw: &[u8]| head(raw).framing;
        assert_eq!(
            of(b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n"),
            Framing::Length(12)
        );
        assert_eq!(
            of(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\nContent-Length: 3\r\n\r\n"),
            Framing::Chunked
        );
        assert_eq!(
            of(b"HTTP/1.1 204 No Content\r\nContent-Length: 12\r\n\r\n"),
            Framing::Empty
        );
        assert_eq!(of(b"HTTP/1.1 200 OK\r\n\r\n"), Framing::UntilClose);
        assert!(head(b"HTTP/1.1 200 OK\r\n\r\n").close);
        assert!(head(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n").close);
        assert!(
            !head(b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n").close
        );
        assert!(matches!(
            parse(b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n", true),
            Parsed::Head(ResponseHead {
                framing: Framing::Empty,
                ..
            })
        ));
        assert!(matches!(
            parse(
                b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                false
            ),
            Parsed::Invalid(_)
        ));
        assert!(matches!(
            parse(b"HTTP/1.1 200 OK\r\nContent-Length: +1\r\n\r\n", false),
            Parsed::Invalid(_)
        ));
    }

    #[test]
    fn the_client_head_gets_the_proxy_headers_and_loses_hop_by_hop_ones() {
        let raw = b"HTTP/1.1 201 Created\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\nX-App: 1\r\nContent-Length: 0\r\n\r\n";
        let mut out = Vec::new();
        head(raw).write_client(raw, b"01abc", true, &mut out);
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "HTTP/1.1 201 Created\r\nX-App: 1\r\nContent-Length: 0\r\nvia: 1.1 hangar\r\n\
             fly-request-id: 01abc\r\nserver: hangar\r\nconnection: close\r\n\r\n"
        );
    }

    #[test]
    fn replays_are_recognised_in_both_forms() {
        assert!(head(b"HTTP/1.1 204 No Content\r\nfly-replay: region=ams\r\n\r\n").replay);
        assert!(
            head(b"HTTP/1.1 200 OK\r\nContent-Type: application/vnd.fly.replay+json\r\nContent-Length: 2\r\n\r\n")
                .replay
        );
        assert!(!head(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n").replay);
    }

    #[test]
    fn the_end_of_a_chunked_body_is_found_however_it_is_split() {
        let body = b"5;ext=1\r\nhello\r\n10\r\n0123456789abcdef\r\n0\r\nx-trailer: 1\r\n\r\n";
        let next = b"HTTP/1.1 200 OK";
        let mut all = body.to_vec();
        all.extend_from_slice(next);
        for split in 1..all.len() {
            let mut tracker = ChunkedEnd::default();
            let (a, b) = all.split_at(split);
            let end = match tracker.feed(a).unwrap() {
                Some(n) => n,
                None => split + tracker.feed(b).unwrap().expect("end in second part"),
            };
            assert_eq!(end, body.len(), "split at {split}");
        }
        let mut tracker = ChunkedEnd::default();
        assert_eq!(tracker.feed(b"0\r\n\r\n").unwrap(), Some(5));
        assert!(ChunkedEnd::default().feed(b"zz\r\n").is_err());
    }
}
