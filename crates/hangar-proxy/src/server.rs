//! Accepting client connections (HTTP/1.1 and h2c).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::HeaderValue;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;

use crate::headers::ClientConn;
use crate::proxy::Proxy;

impl Proxy {
    /// Serves plain HTTP/1.1 and h2c on `listener`; `public_port` is the
    /// port clients connect to (services are matched on it). Runs until the
    /// listener fails for good.
    pub async fn serve_http(
        self: Arc<Self>,
        listener: TcpListener,
        public_port: u16,
    ) -> std::io::Result<()> {
        loop {
            let (stream, peer) = match listener.accept().await {
                Ok(accepted) => accepted,
                Err(error) if is_transient(&error) => {
                    tracing::warn!(%error, "accept failed; retrying");
                    // Back off so that a full file table does not spin the CPU.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
                Err(error) => return Err(error),
            };
            let _ = stream.set_nodelay(true);
            let client = ClientConn {
                peer,
                public_port,
                tls: false,
            };
            let proxy = self.clone();
            self.spawn_connection(stream, move |stream| {
                proxy.serve_client(stream, client, None)
            });
        }
    }

    /// Serves the Prometheus text of [`Proxy::metrics_text`] at `GET /metrics`
    /// on `listener`; other paths are 404.
    pub async fn serve_metrics(self: Arc<Self>, listener: TcpListener) -> std::io::Result<()> {
        loop {
            let (stream, _) = match listener.accept().await {
                Ok(accepted) => accepted,
                Err(error) if is_transient(&error) => {
                    tracing::warn!(%error, "metrics accept failed; retrying");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
                Err(error) => return Err(error),
            };
            let proxy = self.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request: Request<Incoming>| {
                    let proxy = proxy.clone();
                    async move {
                        let mut response = if request.uri().path() == "/metrics" {
                            let mut r = Response::new(Full::new(Bytes::from(proxy.metrics_text())));
                            r.headers_mut().insert(
                                hyper::header::CONTENT_TYPE,
                                HeaderValue::from_static("text/plain; version=0.0.4"),
                            );
                            r
                        } else {
                            Response::new(Full::new(Bytes::from_static(b"see /metrics\n")))
                        };
                        if request.uri().path() != "/metrics" {
                            *response.status_mut() = StatusCode::NOT_FOUND;
                        }
                        Ok::<_, Infallible>(response)
                    }
                });
                let _ = auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    }
}

pub(crate) fn is_transient(error: &std::io::Error) -> bool {
    use std::io::ErrorKind;
    !matches!(
        error.kind(),
        ErrorKind::InvalidInput | ErrorKind::NotConnected | ErrorKind::Unsupported
    )
}
