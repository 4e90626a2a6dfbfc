//! Sending a request to a Machine: HTTP/1.1 through [`Http1Pool`], h2c
//! (`h2_backend`) through hyper-util's client.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use crate::load::LoadGuard;
use crate::pool::{Checkout, Http1Pool, IDLE_TIMEOUT};

/// The body type the proxy answers with.
pub(crate) type ProxyBody = UnsyncBoxBody<Bytes, hyper::Error>;

/// A fixed body (errors and redirects).
pub(crate) fn full_body(body: Full<Bytes>) -> ProxyBody {
    body.map_err(|never| match never {}).boxed_unsync()
}

/// Upstream HTTP clients: HTTP/1.1 connections, reused for
/// `type = "requests"` and one per request for `type = "connections"`, and
/// h2c with prior knowledge (`h2_backend`, for gRPC).
pub(crate) struct Upstreams {
    pub(crate) http1: Http1Pool,
    pub(crate) h2c: Client<HttpConnector, ProxyBody>,
}

impl Upstreams {
    /// Clients whose h2c connects give up after `connect_timeout`.
    pub(crate) fn new(connect_timeout: std::time::Duration) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(connect_timeout));
        Upstreams {
            http1: Http1Pool::default(),
            h2c: Client::builder(TokioExecutor::new())
                .http2_only(true)
                .pool_idle_timeout(IDLE_TIMEOUT)
                .build(connector),
        }
    }
}

/// A Machine's response body that holds the Machine's load slot until the
/// body ends or is dropped, drives its HTTP/1.1 connection while it is read
/// (on the task serving the client), and hands the connection back to the
/// pool once the body has been read to its end.
pub(crate) struct GuardedBody {
    inner: Incoming,
    guard: Option<LoadGuard>,
    connection: Option<Checkout>,
}

impl GuardedBody {
    pub(crate) fn new(inner: Incoming, guard: LoadGuard, connection: Option<Checkout>) -> Self {
        GuardedBody {
            inner,
            guard: Some(guard),
            connection,
        }
    }
}

impl Drop for GuardedBody {
    fn drop(&mut self) {
        // An empty body (HEAD, 204, 304) may never be polled.
        if self.inner.is_end_stream() {
            if let Some(connection) = self.connection.take() {
                connection.finish();
            }
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
        if let Some(connection) = self.connection.as_mut() {
            connection.drive(cx);
        }
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(None) => {
                self.guard = None;
                if let Some(connection) = self.connection.take() {
                    connection.finish();
                }
            }
            Poll::Ready(Some(Err(_))) => {
                self.guard = None;
                self.connection = None;
            }
            _ => {}
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
