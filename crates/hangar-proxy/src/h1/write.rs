//! Writing a response the general path made (an error, or the end of a
//! replay) to a lean-path client connection as HTTP/1.1.

use std::io;

use http_body_util::BodyExt;
use hyper::body::Body;
use hyper::Response;
use tokio::io::{AsyncWrite, AsyncWriteExt};

use crate::forward::ProxyBody;

use super::request::push_header;

/// Writes `response`: `Content-Length` when its size is known, chunked
/// otherwise; `Connection: close` when `closing`. Hop-by-hop headers and
/// the response's own framing headers are replaced.
pub(crate) async fn write_response<W: AsyncWrite + Unpin>(
    io: &mut W,
    response: Response<ProxyBody>,
    head_request: bool,
    closing: bool,
) -> io::Result<()> {
    let (parts, mut body) = response.into_parts();
    let mut out = Vec::with_capacity(512);
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(parts.status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(
        parts
            .status
            .canonical_reason()
            .unwrap_or_default()
            .as_bytes(),
    );
    out.extend_from_slice(b"\r\n");
    for (name, value) in &parts.headers {
        if matches!(
            name.as_str(),
            "connection" | "keep-alive" | "transfer-encoding" | "content-length"
        ) {
            continue;
        }
        push_header(&mut out, name.as_str().as_bytes(), value.as_bytes());
    }
    let no_body = head_request || parts.status.as_u16() == 204 || parts.status.as_u16() == 304;
    let known_length = body.size_hint().exact();
    if !no_body || head_request {
        match known_length {
            Some(length) => push_header(&mut out, b"content-length", length.to_string().as_bytes()),
            None if !no_body => push_header(&mut out, b"transfer-encoding", b"chunked"),
            None => {}
        }
    }
    if closing {
        push_header(&mut out, b"connection", b"close");
    }
    out.extend_from_slice(b"\r\n");
    if no_body {
        return io.write_all(&out).await;
    }
    let chunked = known_length.is_none();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(io::Error::other)?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if data.is_empty() {
            continue;
        }
        if chunked {
            out.extend_from_slice(format!("{:x}\r\n", data.len()).as_bytes());
            out.extend_from_slice(&data);
            out.extend_from_slice(b"\r\n");
        } else {
            out.extend_from_slice(&data);
        }
        io.write_all(&out).await?;
        out.clear();
    }
    if chunked {
        out.extend_from_slice(b"0\r\n\r\n");
    }
    io.write_all(&out).await
}
