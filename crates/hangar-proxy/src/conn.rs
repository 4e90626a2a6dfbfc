//! One client connection's life: HTTP/1.1 or HTTP/2 served by hyper, with
//! the port's `http_options.idle_timeout` (closing a connection with no
//! request in flight and no bytes moving) and `headers_read_timeout`.

use std::convert::Infallible;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::Request;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;
use tokio::time::Instant;

use hangar_types::HttpOptions;

use crate::headers::ClientConn;
use crate::proxy::{Proxy, RoutedHost};
use crate::routes::RouteTable;

/// Timeouts of one public port for one app, from its `http_options`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PortTimeouts {
    pub(crate) idle: Duration,
    pub(crate) header_read: Duration,
}

/// What the connection's watcher needs to know, shared with its requests.
struct ConnActivity {
    opened: Instant,
    /// Milliseconds after `opened` when bytes last moved.
    last_active_ms: AtomicU64,
    /// Requests being answered right now.
    in_flight: AtomicUsize,
    /// The idle timeout in force, in milliseconds; a request for an app
    /// sets its port's.
    idle_ms: AtomicU64,
    /// Raised when a request changes the idle timeout, so the watcher
    /// re-reads it.
    timeout_changed: Notify,
}

impl ConnActivity {
    fn touch(&self) {
        let ms = self.opened.elapsed().as_millis() as u64;
        self.last_active_ms.store(ms, Ordering::Relaxed);
    }

    /// When to look again whether the connection is idle: when it becomes
    /// idle if nothing moves, or one idle period on while a request is in
    /// flight.
    fn next_check(&self) -> Instant {
        let idle_at = self.idle_at();
        if idle_at > Instant::now() {
            idle_at
        } else {
            Instant::now() + Duration::from_millis(self.idle_ms.load(Ordering::Relaxed).max(10))
        }
    }

    /// When the connection becomes idle if nothing happens before.
    fn idle_at(&self) -> Instant {
        self.opened
            + Duration::from_millis(self.last_active_ms.load(Ordering::Relaxed))
            + Duration::from_millis(self.idle_ms.load(Ordering::Relaxed))
    }
}

/// Client I/O that records when bytes last moved.
struct TrackedIo<I> {
    inner: I,
    activity: Arc<ConnActivity>,
}

impl<I: AsyncRead + Unpin> AsyncRead for TrackedIo<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.touch();
        }
        polled
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for TrackedIo<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Counts a request as in flight until dropped.
struct InFlight(Arc<ConnActivity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
        self.0.touch();
    }
}

impl Proxy {
    /// The timeouts of `app`'s http service on `public_port`, the proxy's
    /// defaults where the port sets none.
    pub(crate) fn port_timeouts(&self, app: Option<&str>, public_port: u16) -> PortTimeouts {
        let table = self.routes.borrow().clone();
        self.port_timeouts_in(&table, app, public_port)
    }

    /// [`Proxy::port_timeouts`] in a snapshot already read.
    pub(crate) fn port_timeouts_in(
        &self,
        table: &RouteTable,
        app: Option<&str>,
        public_port: u16,
    ) -> PortTimeouts {
        let options = app
            .and_then(|app| table.http_port(app, public_port))
            .and_then(|port| port.http_options.as_ref());
        self.timeouts_of(options)
    }

    /// The timeouts a port's `http_options` set, the proxy's defaults
    /// where they set none.
    pub(crate) fn timeouts_of(&self, options: Option<&HttpOptions>) -> PortTimeouts {
        let seconds = |v: Option<i64>| v.and_then(|s| u64::try_from(s).ok()).filter(|s| *s > 0);
        PortTimeouts {
            idle: seconds(options.and_then(|o| o.idle_timeout))
                .map_or(self.config.idle_timeout, Duration::from_secs),
            header_read: seconds(options.and_then(|o| o.headers_read_timeout))
                .map_or(self.config.header_read_timeout, Duration::from_secs),
        }
    }

    /// Serves HTTP/1.1 or HTTP/2 (whichever the client speaks) on one
    /// accepted client connection, plain or already through TLS (then
    /// `sni_app` is the app its SNI name routes to, if any).
    ///
    /// The connection is closed (gracefully: HTTP/2 gets a GOAWAY) once no
    /// request is in flight and no bytes moved for the idle timeout of the
    /// port of the app last asked for (`http_options.idle_timeout`, else
    /// [`ProxyConfig::idle_timeout`](crate::ProxyConfig::idle_timeout)).
    /// The header-read timeout is the SNI app's port's
    /// `headers_read_timeout` on TLS, the proxy's default otherwise (a
    /// plain connection names no app before its first request).
    pub(crate) async fn serve_hyper<I>(
        self: Arc<Self>,
        io: I,
        client: ClientConn,
        sni_app: Option<String>,
    ) where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let first = self.port_timeouts(sni_app.as_deref(), client.public_port);
        let activity = Arc::new(ConnActivity {
            opened: Instant::now(),
            last_active_ms: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            idle_ms: AtomicU64::new(first.idle.as_millis() as u64),
            timeout_changed: Notify::new(),
        });
        let io = TrackedIo {
            inner: io,
            activity: activity.clone(),
        };
        let proxy = self.clone();
        let sni_app: Option<Arc<str>> = sni_app.map(Arc::from);
        let requests = activity.clone();
        let service = service_fn(move |request: Request<Incoming>| {
            let proxy = proxy.clone();
            let sni_app = sni_app.clone();
            let activity = requests.clone();
            activity.in_flight.fetch_add(1, Ordering::SeqCst);
            let in_flight = InFlight(activity.clone());
            async move {
                let _in_flight = in_flight;
                let routed = RoutedHost::of(&proxy, &request);
                let idle = proxy
                    .port_timeouts_in(&routed.table, routed.app.as_deref(), client.public_port)
                    .idle;
                let idle_ms = idle.as_millis() as u64;
                if activity.idle_ms.swap(idle_ms, Ordering::Relaxed) != idle_ms {
                    activity.timeout_changed.notify_one();
                }
                Ok::<_, Infallible>(
                    proxy
                        .handle(request, client, sni_app.as_deref(), routed)
                        .await,
                )
            }
        });
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(first.header_read);
        let connection = builder.serve_connection_with_upgrades(TokioIo::new(io), service);
        tokio::pin!(connection);
        let mut closing = false;
        let result = loop {
            tokio::select! {
                biased;
                result = connection.as_mut() => break result,
                _ = activity.timeout_changed.notified() => {}
                _ = tokio::time::sleep_until(activity.next_check()), if !closing => {
                    let idle = activity.in_flight.load(Ordering::SeqCst) == 0
                        && Instant::now() >= activity.idle_at();
                    if idle {
                        tracing::debug!(peer = %client.peer, "closing an idle client connection");
                        connection.as_mut().graceful_shutdown();
                        closing = true;
                    }
                }
            }
        };
        if let Err(error) = result {
            tracing::debug!(peer = %client.peer, tls = client.tls, %error, "client connection ended with an error");
        }
    }
}
