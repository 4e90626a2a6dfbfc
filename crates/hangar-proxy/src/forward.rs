//! Sending a request to a Machine over HTTP/1.1.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use crate::load::LoadGuard;

/// The body type the proxy answers with.
pub(crate) type ProxyBody = BoxBody<Bytes, hyper::Error>;

/// A fixed body (errors and redirects).
pub(crate) fn full_body(body: Full<Bytes>) -> ProxyBody {
    body.map_err(|never| match never {}).boxed()
}

/// Upstream HTTP clients: one reusing connections (`type = "requests"`), one
/// opening a connection per request (`type = "connections"`), and one
/// speaking h2c with prior knowledge (`h2_backend`, for gRPC).
pub(crate) struct Upstreams {
    pooled: Client<HttpConnector, ProxyBody>,
    unpooled: Client<HttpConnector, ProxyBody>,
    h2c: Client<HttpConnector, ProxyBody>,
}

impl Upstreams {
    pub(crate) fn new() -> Self {
        let connector = || {
            let mut c = HttpConnector::new();
            c.set_nodelay(true);
            c
        };
        Upstreams {
            pooled: Client::builder(TokioExecutor::new())
                .pool_idle_timeout(std::time::Duration::from_secs(4))
                .build(connector()),
            unpooled: Client::builder(TokioExecutor::new())
                .pool_max_idle_per_host(0)
                .build(connector()),
            h2c: Client::builder(TokioExecutor::new())
                .http2_only(true)
                .pool_idle_timeout(std::time::Duration::from_secs(4))
                .build(connector()),
        }
    }

    /// The client for a Machine's service.
    pub(crate) fn client(
        &self,
        per_request: bool,
        h2_backend: bool,
    ) -> &Client<HttpConnector, ProxyBody> {
        match (h2_backend, per_request) {
            (true, _) => &self.h2c,
            (false, true) => &self.pooled,
            (false, false) => &self.unpooled,
        }
    }
}

/// A Machine's response body that holds the Machine's load slot until the
/// body ends or is dropped.
pub(crate) struct GuardedBody {
    inner: Incoming,
    guard: Option<LoadGuard>,
}

impl GuardedBody {
    pub(crate) fn new(inner: Incoming, guard: LoadGuard) -> Self {
        GuardedBody {
            inner,
            guard: Some(guard),
        }
    }
}

impl Body for GuardedBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None) | Poll::Ready(Some(Err(_)))) {
            self.guard = None;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
