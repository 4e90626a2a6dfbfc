//! The lean HTTP/1.1 path: the common request (HTTP/1.1, a `Content-Length`
//! body or none, no upgrade, no placement headers) served without hyper.
//!
//! The request head is parsed in place in the connection's buffer and
//! written to the Machine rewritten, with its body, in one write; the
//! response head is parsed in place, rewritten, and sent with the first
//! bytes of its body in one write; the rest of the body is passed on as it
//! comes, its framing (length or chunks) followed only to find its end. A
//! request and its response thus cost one read and one write on each side.
//! Machines are chosen, started, queued for and retried exactly as on the
//! general path (the same [`Acquirer`]).
//!
//! Whatever the lean path does not serve goes to the general, hyper-based
//! path: a request it does not take (and everything after it on that
//! connection) is handed over with the bytes already read, before anything
//! was sent anywhere; a Machine's `fly-replay` answer is handed to
//! [`Proxy::dispatch`] as the first attempt's answer. Errors are answered
//! with the general path's responses.

mod request;
mod response;
mod rewind;
mod upstream;
mod write;

use std::sync::Arc;

use bytes::{Buf, Bytes, BytesMut};
use http_body_util::Full;
use hyper::Version;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::acquire::{self, Acquirer};
use crate::body::RequestBody;
use crate::conn::PortTimeouts;
use crate::dispatch::{Destination, FirstAnswer};
use crate::error::ProxyErrorCode;
use crate::headers::{self, ClientConn};
use crate::host::{app_of_host, strip_port};
use crate::placement::Placement;
use crate::proxy::{error_response, finish_response, Proxy};

use request::{Hop, Parsed, RequestHead};
use response::{ChunkedEnd, Framing, ResponseHead};
use rewind::Rewind;
pub(crate) use upstream::RawPool;

/// Bytes read from a socket at a time.
const READ_SIZE: usize = 16 * 1024;
/// A request head longer than this goes to hyper (which refuses it).
const MAX_REQUEST_HEAD: usize = 64 * 1024;
/// A response head longer than this fails the response.
const MAX_RESPONSE_HEAD: usize = 64 * 1024;
/// A `fly-replay` answer's body is read up to this size.
const MAX_REPLAY_BODY: usize = 64 * 1024;

/// How one request ended for its client connection.
enum Served {
    /// Answered; the connection may take the next request unless `close`.
    Answered { close: bool },
    /// Not for the lean path: hyper takes the connection from this request.
    HandOver,
    /// The connection is done (it failed, or the answer cannot be framed).
    Close,
}

/// What one attempt on a Machine came to.
enum Attempt {
    /// The response went to the client.
    Forwarded { close: bool },
    /// A reused connection turned out closed before any answer: try again
    /// on a new one.
    Stale,
    /// The Machine failed before its response head; nothing went to the
    /// client.
    Failed(String),
    /// The response failed midway, or the client went away.
    Broken,
    /// The Machine asked for a replay; its answer, for the general path.
    Replay(hyper::Response<crate::forward::ProxyBody>),
}

/// What a client connection's requests have in common.
struct ClientSide<'a> {
    client: ClientConn,
    sni_app: Option<&'a str>,
    hop: Hop<'a>,
}

impl Proxy {
    /// Serves one client connection (plain, or TLS that did not negotiate
    /// h2): on the lean path while its requests allow, on hyper's from the
    /// first one that does not. With `lean_http1` off, on hyper's only.
    pub(crate) async fn serve_client<I>(
        self: Arc<Self>,
        mut io: I,
        client: ClientConn,
        sni_app: Option<String>,
    ) where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        if !self.config.lean_http1 {
            return self.serve_hyper(io, client, sni_app).await;
        }
        let client_ip = Hop::client_ip_of(&client);
        let public_port = client.public_port.to_string();
        let side = ClientSide {
            client,
            sni_app: sni_app.as_deref(),
            hop: Hop {
                client_ip: &client_ip,
                public_port: &public_port,
                region: &self.config.region,
                tls: client.tls,
            },
        };
        let mut timeouts = self.port_timeouts(sni_app.as_deref(), client.public_port);
        let mut buf = BytesMut::with_capacity(READ_SIZE);
        let mut scratch = Scratch::default();
        loop {
            let Some(head) = read_head(&mut io, &mut buf, timeouts).await else {
                return;
            };
            let Some(head) = head else {
                return self
                    .serve_hyper(Rewind::new(buf.freeze(), io), client, sni_app)
                    .await;
            };
            if head.content_length > self.config.max_request_body_buffer {
                return self
                    .serve_hyper(Rewind::new(buf.freeze(), io), client, sni_app)
                    .await;
            }
            let request_len = head.head_len + head.content_length;
            while buf.len() < request_len {
                buf.reserve(request_len - buf.len());
                match tokio::time::timeout(timeouts.idle, io.read_buf(&mut buf)).await {
                    Ok(Ok(n)) if n > 0 => {}
                    _ => return,
                }
            }
            let served = self
                .serve_request(&mut io, &buf, &head, &side, &mut timeouts, &mut scratch)
                .await;
            match served {
                Served::Answered { close } => {
                    buf.advance(request_len);
                    if close {
                        let _ = io.shutdown().await;
                        return;
                    }
                }
                Served::HandOver => {
                    return self
                        .serve_hyper(Rewind::new(buf.freeze(), io), client, sni_app)
                        .await;
                }
                Served::Close => return,
            }
        }
    }

    /// Serves one request whose head and body are in `buf`.
    async fn serve_request<I>(
        self: &Arc<Self>,
        io: &mut I,
        buf: &[u8],
        head: &RequestHead,
        side: &ClientSide<'_>,
        timeouts: &mut PortTimeouts,
        scratch: &mut Scratch,
    ) -> Served
    where
        I: AsyncRead + AsyncWrite + Unpin + Send,
    {
        let began = std::time::Instant::now();
        let target = head.target(buf);
        let table = self.routes.borrow().clone();
        let Some(app) = app_of_host(target.host, &self.config.app_domain, &table) else {
            return Served::HandOver;
        };
        if side.sni_app.is_some_and(|sni_app| sni_app != app)
            || (self.acme.is_some() && target.path.starts_with("/.well-known/acme-challenge/"))
        {
            return Served::HandOver;
        }
        let public_port = side.client.public_port;
        let Some(port) = table.http_port(&app, public_port) else {
            return Served::HandOver;
        };
        let options = port.http_options.as_ref();
        if (port.force_https == Some(true) && !side.client.tls)
            || options.is_some_and(|o| o.response.is_some())
        {
            return Served::HandOver;
        }
        let host_key = || {
            strip_port(target.host)
                .trim_end_matches('.')
                .to_ascii_lowercase()
        };
        if self.replay_cache.may_hold()
            && self
                .replay_cache
                .lookup(&host_key(), strip_query(target.path))
                .is_some()
        {
            return Served::HandOver;
        }
        *timeouts = self.timeouts_of(options);

        scratch.upstream_request.clear();
        head.write_upstream(buf, &side.hop, &mut scratch.upstream_request);
        let head_request = target.method == b"HEAD";
        let idempotent = head.is_idempotent(buf);
        let mut acquirer = Acquirer::new(self, public_port, acquire::HTTP);
        let placement = Placement::default();
        let mut fresh_only = false;
        let result = loop {
            let (chosen, table) = match acquirer.acquire(&app, &placement).await {
                Ok(acquired) => acquired,
                Err(error) => break Err(error),
            };
            if chosen.h2_backend {
                // h2c to the Machine is hyper's; nothing was sent yet.
                return Served::HandOver;
            }
            let pooled = if !chosen.per_request || fresh_only {
                None
            } else {
                self.raw_upstreams.checkout(chosen.upstream)
            };
            let reused = pooled.is_some();
            let stream = match pooled {
                Some(stream) => stream,
                None => {
                    let timeout = acquirer.connect_timeout(&chosen.machine_id);
                    match upstream::dial(chosen.upstream, timeout).await {
                        Ok(stream) => stream,
                        Err(reason) => {
                            let machine = chosen.machine_id.clone();
                            drop(chosen);
                            if let Err(error) =
                                acquirer.connect_failed(&app, machine, &reason).await
                            {
                                break Err(error);
                            }
                            continue;
                        }
                    }
                }
            };
            let machine = chosen.machine_id.clone();
            let attempt = self
                .attempt(
                    io,
                    stream,
                    &chosen,
                    scratch,
                    AttemptKind {
                        reused,
                        idempotent,
                        head_request,
                        client_close: head.close,
                    },
                    // Counted once the answer is known, before it is sent (as
                    // on the hyper path): whoever got it sees it counted.
                    |status| {
                        self.metrics
                            .request(&app, &machine, status, began.elapsed())
                    },
                )
                .await;
            drop(chosen);
            match attempt {
                Attempt::Forwarded { close } => {
                    if scratch.invalidated_replay_cache {
                        self.replay_cache
                            .invalidate(&host_key(), strip_query(target.path));
                    }
                    return Served::Answered { close };
                }
                Attempt::Stale => fresh_only = true,
                Attempt::Failed(reason) => {
                    break Err(ProxyErrorCode::UpstreamFailed {
                        app: app.clone(),
                        machine,
                        reason,
                    })
                }
                Attempt::Broken => return Served::Close,
                Attempt::Replay(response) => {
                    let first = FirstAnswer {
                        response,
                        machine_id: machine,
                        table,
                    };
                    break self.replay(buf, head, side, &app, &host_key(), first).await;
                }
            }
        };
        let (mut response, machine) = match result {
            Ok(answered) => answered,
            Err(error) => {
                tracing::debug!(%app, %error, "proxy answered with an error");
                (error_response(&error), String::new())
            }
        };
        finish_response(&mut response, Version::HTTP_11);
        self.metrics
            .request(&app, &machine, response.status().as_u16(), began.elapsed());
        let close = head.close;
        match write::write_response(io, response, head_request, close).await {
            Ok(()) if io.flush().await.is_ok() => Served::Answered { close },
            _ => Served::Close,
        }
    }

    /// Follows a Machine's `fly-replay` answer on the general path;
    /// `host_key` is the Host lowercase, without port (the replay cache key).
    async fn replay(
        self: &Arc<Self>,
        buf: &[u8],
        head: &RequestHead,
        side: &ClientSide<'_>,
        app: &str,
        host_key: &str,
        first: FirstAnswer,
    ) -> Result<(hyper::Response<crate::forward::ProxyBody>, String), ProxyErrorCode> {
        let target = head.target(buf);
        let request = hyper::Request::builder()
            .method(target.method)
            .uri(target.path)
            .version(Version::HTTP_11)
            .body(())
            .map_err(|e| ProxyErrorCode::BadRequest(e.to_string()));
        let mut parts = request?.into_parts().0;
        parts.headers = head.header_map(buf);
        self.prepare_request(&mut parts, target.host, side.client, None);
        let destination = Destination {
            app,
            host: host_key,
            public_port: side.client.public_port,
            response_options: None,
        };
        let body = Bytes::copy_from_slice(&buf[head.head_len..head.head_len + head.content_length]);
        self.dispatch(
            destination,
            parts,
            RequestBody::Buffered(body),
            None,
            Some(first),
        )
        .await
    }

    /// Sends the request in `scratch` to a Machine over `stream` and
    /// passes its response to the client.
    async fn attempt<I>(
        &self,
        io: &mut I,
        mut stream: TcpStream,
        target: &crate::balance::Target,
        scratch: &mut Scratch,
        kind: AttemptKind,
        answered: impl FnOnce(u16),
    ) -> Attempt
    where
        I: AsyncWrite + Unpin,
    {
        scratch.invalidated_replay_cache = false;
        if let Err(error) = stream.write_all(&scratch.upstream_request).await {
            return if kind.reused {
                Attempt::Stale
            } else {
                Attempt::Failed(error.to_string())
            };
        }
        let rbuf = &mut scratch.response;
        rbuf.clear();
        let response = loop {
            match response::parse(rbuf, kind.head_request) {
                response::Parsed::Head(head) if head.status >= 200 || head.status == 101 => {
                    break head;
                }
                response::Parsed::Head(head) => {
                    // An interim answer (103 Early Hints): passed on as it is.
                    if io.write_all(&rbuf[..head.head_len]).await.is_err() {
                        return Attempt::Broken;
                    }
                    rbuf.advance(head.head_len);
                    continue;
                }
                response::Parsed::Invalid(reason) => return Attempt::Failed(reason),
                response::Parsed::Partial => {}
            }
            if rbuf.len() > MAX_RESPONSE_HEAD {
                return Attempt::Failed("response head too long".to_string());
            }
            rbuf.reserve(READ_SIZE);
            match stream.read_buf(rbuf).await {
                Ok(n) if n > 0 => {}
                Ok(_) if rbuf.is_empty() && kind.reused && kind.idempotent => {
                    return Attempt::Stale
                }
                Err(_) if rbuf.is_empty() && kind.reused && kind.idempotent => {
                    return Attempt::Stale
                }
                Ok(_) => return Attempt::Failed("connection closed before a response".to_string()),
                Err(error) => return Attempt::Failed(error.to_string()),
            }
        };
        if response.status == 101 {
            return Attempt::Failed(
                "the Machine switched protocols without being asked to".to_string(),
            );
        }
        if response.replay {
            return match read_replay_answer(&mut stream, rbuf, &response).await {
                Ok(answer) => {
                    // A chunked answer's trailers may be left unread.
                    if !response.close
                        && target.per_request
                        && matches!(response.framing, Framing::Length(_) | Framing::Empty)
                        && rbuf.is_empty()
                    {
                        self.raw_upstreams.checkin(target.upstream, stream);
                    }
                    Attempt::Replay(answer)
                }
                Err(reason) => Attempt::Failed(reason),
            };
        }
        answered(response.status);
        scratch.invalidated_replay_cache = response.invalidates_replay_cache;
        let close = kind.client_close || response.framing == Framing::UntilClose;
        let request_id = headers::request_id();
        let out = &mut scratch.client_response;
        out.clear();
        response.write_client(
            rbuf,
            request_id.as_ref().map_or(&b""[..], |id| id.as_bytes()),
            close,
            out,
        );
        rbuf.advance(response.head_len);
        let reusable = match forward_body(io, &mut stream, rbuf, out, response.framing).await {
            Ok(reusable) => reusable,
            Err(()) => return Attempt::Broken,
        };
        if reusable && !response.close && target.per_request {
            self.raw_upstreams.checkin(target.upstream, stream);
        }
        Attempt::Forwarded { close }
    }
}

/// How one attempt is to be made.
#[derive(Clone, Copy)]
struct AttemptKind {
    /// The connection to the Machine was used before.
    reused: bool,
    /// The request may be sent again when a reused connection fails.
    idempotent: bool,
    head_request: bool,
    /// The client asked to close after this request.
    client_close: bool,
}

/// Buffers kept for the life of a client connection.
#[derive(Default)]
struct Scratch {
    /// The request as it goes to the Machine.
    upstream_request: Vec<u8>,
    /// Bytes read from the Machine.
    response: BytesMut,
    /// Bytes going to the client.
    client_response: Vec<u8>,
    /// The last response asked for its replay cache entry to be dropped.
    invalidated_replay_cache: bool,
}

/// Reads the next request head: `None` when the connection ended or timed
/// out, `Some(None)` for a request the lean path does not serve.
async fn read_head<I: AsyncRead + Unpin>(
    io: &mut I,
    buf: &mut BytesMut,
    timeouts: PortTimeouts,
) -> Option<Option<RequestHead>> {
    let mut head_deadline = (!buf.is_empty()).then(|| Instant::now() + timeouts.header_read);
    loop {
        if !buf.is_empty() {
            match request::parse(buf) {
                Parsed::Head(head) => return Some(Some(head)),
                Parsed::NotLean => return Some(None),
                Parsed::Partial if buf.len() > MAX_REQUEST_HEAD => return Some(None),
                Parsed::Partial => {}
            }
        }
        buf.reserve(READ_SIZE);
        let read = match head_deadline {
            Some(deadline) => tokio::time::timeout_at(deadline, io.read_buf(buf)).await,
            // Waiting for a request: the connection is idle.
            None => tokio::time::timeout(timeouts.idle, io.read_buf(buf)).await,
        };
        match read {
            Ok(Ok(n)) if n > 0 => {
                head_deadline.get_or_insert_with(|| Instant::now() + timeouts.header_read);
            }
            _ => return None,
        }
    }
}

/// Passes a response body from `stream` to the client, `rbuf` holding its
/// first bytes and `out` the client's response head. Ok(true) when the
/// body ended cleanly and the connection to the Machine can be reused.
async fn forward_body<I: AsyncWrite + Unpin>(
    io: &mut I,
    stream: &mut TcpStream,
    rbuf: &mut BytesMut,
    out: &mut Vec<u8>,
    framing: Framing,
) -> Result<bool, ()> {
    match framing {
        Framing::Empty => {
            send(io, out).await?;
            Ok(rbuf.is_empty())
        }
        Framing::Length(length) => {
            let mut left = length;
            loop {
                let take = left.min(rbuf.len() as u64) as usize;
                out.extend_from_slice(&rbuf[..take]);
                rbuf.advance(take);
                left -= take as u64;
                send(io, out).await?;
                out.clear();
                if left == 0 {
                    return Ok(rbuf.is_empty());
                }
                rbuf.reserve(READ_SIZE);
                if stream.read_buf(rbuf).await.map_err(drop)? == 0 {
                    return Err(());
                }
            }
        }
        Framing::Chunked => {
            let mut chunks = ChunkedEnd::default();
            loop {
                let end = chunks.feed(rbuf).map_err(drop)?;
                let take = end.unwrap_or(rbuf.len());
                out.extend_from_slice(&rbuf[..take]);
                rbuf.advance(take);
                send(io, out).await?;
                out.clear();
                if end.is_some() {
                    return Ok(rbuf.is_empty());
                }
                rbuf.reserve(READ_SIZE);
                if stream.read_buf(rbuf).await.map_err(drop)? == 0 {
                    return Err(());
                }
            }
        }
        Framing::UntilClose => loop {
            out.extend_from_slice(rbuf);
            rbuf.clear();
            send(io, out).await?;
            out.clear();
            rbuf.reserve(READ_SIZE);
            if stream.read_buf(rbuf).await.map_err(drop)? == 0 {
                return Ok(false);
            }
        },
    }
}

/// Writes `out` to the client and flushes it: a TLS connection sends what
/// it buffered now, so a streamed body (server-sent events) is not held
/// back until the next write.
async fn send<I: AsyncWrite + Unpin>(io: &mut I, out: &[u8]) -> Result<(), ()> {
    io.write_all(out).await.map_err(drop)?;
    io.flush().await.map_err(drop)
}

/// Reads the rest of a `fly-replay` answer and makes it a hyper response
/// for [`Proxy::dispatch`].
async fn read_replay_answer(
    stream: &mut TcpStream,
    rbuf: &mut BytesMut,
    head: &ResponseHead,
) -> Result<hyper::Response<crate::forward::ProxyBody>, String> {
    let builder = head.to_hyper(rbuf);
    let mut body = rbuf.split_off(head.head_len);
    rbuf.clear();
    let complete = |body: &BytesMut| -> Result<Option<Vec<u8>>, String> {
        match head.framing {
            Framing::Empty => Ok(Some(Vec::new())),
            Framing::Length(n) => Ok((body.len() as u64 >= n).then(|| body[..n as usize].to_vec())),
            Framing::Chunked => dechunk(body),
            Framing::UntilClose => Ok(None),
        }
    };
    let bytes = loop {
        if let Some(bytes) = complete(&body)? {
            break bytes;
        }
        if body.len() > MAX_REPLAY_BODY {
            return Err("fly-replay answer too long".to_string());
        }
        body.reserve(READ_SIZE);
        match stream.read_buf(&mut body).await {
            Ok(n) if n > 0 => {}
            Ok(_) if head.framing == Framing::UntilClose => break body.to_vec(),
            Ok(_) => return Err("connection closed inside a fly-replay answer".to_string()),
            Err(error) => return Err(error.to_string()),
        }
    };
    builder
        .body(crate::forward::full_body(Full::new(Bytes::from(bytes))))
        .map_err(|e| format!("bad fly-replay answer: {e}"))
}

/// The data of a complete chunked body, `None` while it is incomplete.
fn dechunk(body: &[u8]) -> Result<Option<Vec<u8>>, String> {
    let mut data = Vec::new();
    let mut at = 0;
    loop {
        let size = match httparse::parse_chunk_size(&body[at..]) {
            Ok(httparse::Status::Complete((used, size))) => {
                at += used;
                size as usize
            }
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(_) => return Err("bad chunk in a fly-replay answer".to_string()),
        };
        if size == 0 {
            // Trailers are not needed; the connection is not reused unless
            // they were read to their end.
            return Ok(Some(data));
        }
        if body.len() < at + size + 2 {
            return Ok(None);
        }
        data.extend_from_slice(&body[at..at + size]);
        at += size + 2;
    }
}

fn strip_query(path: &str) -> &str {
    path.split_once('?').map_or(path, |(path, _)| path)
}
