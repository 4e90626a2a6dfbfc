//! Accepting client connections (HTTP/1.1 and h2c).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
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
            let proxy = self.clone();
            let client = ClientConn {
                peer,
                public_port,
                tls: false,
            };
            tokio::spawn(async move {
                let service = service_fn(move |request| {
                    let proxy = proxy.clone();
                    async move { Ok::<_, Infallible>(proxy.handle(request, client).await) }
                });
                if let Err(error) = auto::Builder::new(TokioExecutor::new())
                    .serve_connection_with_upgrades(TokioIo::new(stream), service)
                    .await
                {
                    tracing::debug!(%peer, %error, "client connection ended with an error");
                }
            });
        }
    }
}

fn is_transient(error: &std::io::Error) -> bool {
    use std::io::ErrorKind;
    !matches!(
        error.kind(),
        ErrorKind::InvalidInput | ErrorKind::NotConnected | ErrorKind::Unsupported
    )
}
