//! Request bodies: buffered up to a limit so a request can be retried on
//! another Machine, streamed beyond it (one attempt only).

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::{Body, Frame, Incoming, SizeHint};

use crate::forward::{full_body, ProxyBody};

/// A client's request body as the proxy holds it.
pub(crate) enum RequestBody {
    /// The whole body; can be sent any number of times.
    Buffered(Bytes),
    /// Too large to buffer: the bytes read so far and the rest of the
    /// stream. `None` once sent.
    Streaming(Option<PrefixedBody>),
}

impl RequestBody {
    /// Reads `body` until its end or until more than `limit` bytes came.
    pub(crate) async fn read(mut body: Incoming, limit: usize) -> Result<Self, hyper::Error> {
        if body.is_end_stream() {
            // No body (most GETs): nothing to read or copy.
            return Ok(RequestBody::Buffered(Bytes::new()));
        }
        if body.size_hint().lower() > limit as u64 {
            return Ok(RequestBody::Streaming(Some(PrefixedBody {
                prefix: None,
                rest: body,
            })));
        }
        let mut buffer = BytesMut::new();
        while let Some(frame) = body.frame().await {
            // Trailers of buffered bodies are not forwarded.
            if let Ok(data) = frame?.into_data() {
                buffer.extend_from_slice(&data);
                if buffer.len() > limit {
                    return Ok(RequestBody::Streaming(Some(PrefixedBody {
                        prefix: Some(buffer.freeze()),
                        rest: body,
                    })));
                }
            }
        }
        Ok(RequestBody::Buffered(buffer.freeze()))
    }

    /// True when the whole body is held and can be sent again.
    pub(crate) fn is_buffered(&self) -> bool {
        matches!(self, RequestBody::Buffered(_))
    }

    /// The body for one attempt, or `None` when a streamed body was
    /// already sent and the request cannot be retried.
    pub(crate) fn for_attempt(&mut self) -> Option<ProxyBody> {
        match self {
            RequestBody::Buffered(bytes) if bytes.is_empty() => {
                Some(Empty::new().map_err(|never| match never {}).boxed_unsync())
            }
            RequestBody::Buffered(bytes) => Some(full_body(Full::new(bytes.clone()))),
            RequestBody::Streaming(stream) => stream.take().map(|b| b.boxed_unsync()),
        }
    }
}

/// Bytes already read from a body, followed by the rest of it.
pub(crate) struct PrefixedBody {
    prefix: Option<Bytes>,
    rest: Incoming,
}

impl Body for PrefixedBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        if let Some(prefix) = self.prefix.take() {
            return Poll::Ready(Some(Ok(Frame::data(prefix))));
        }
        Pin::new(&mut self.rest).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.prefix.is_none() && self.rest.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        let prefix = self.prefix.as_ref().map_or(0, |p| p.len() as u64);
        let rest = self.rest.size_hint();
        let mut hint = SizeHint::new();
        hint.set_lower(rest.lower() + prefix);
        if let Some(upper) = rest.upper() {
            hint.set_upper(upper + prefix);
        }
        hint
    }
}
