//! Accepting TLS client connections.

use std::sync::Arc;
use std::time::Duration;

use rustls::ServerConfig;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::headers::ClientConn;
use crate::proxy::Proxy;
use crate::server::is_transient;
use crate::tls::resolver::SniResolver;
use crate::tls::CertStore;

/// How long a client may take to finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

impl Proxy {
    /// Serves HTTP/1.1 and HTTP/2 over TLS on `listener`: the client's SNI
    /// name picks the certificate from `certs` (unknown names are refused),
    /// ALPN offers `h2` and `http/1.1`. `public_port` is the port clients
    /// connect to (services are matched on it, as Fly's `443` with handlers
    /// `["tls", "http"]`). Runs until the listener fails for good.
    pub async fn serve_tls(
        self: Arc<Self>,
        listener: TcpListener,
        public_port: u16,
        certs: Arc<CertStore>,
    ) -> std::io::Result<()> {
        let acceptor = TlsAcceptor::from(Arc::new(self.tls_config(certs)?));
        loop {
            let (stream, peer) = match listener.accept().await {
                Ok(accepted) => accepted,
                Err(error) if is_transient(&error) => {
                    tracing::warn!(%error, "TLS accept failed; retrying");
                    // Back off so that a full file table does not spin the CPU.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
                Err(error) => return Err(error),
            };
            let _ = stream.set_nodelay(true);
            let proxy = self.clone();
            let acceptor = acceptor.clone();
            let client = ClientConn {
                peer,
                public_port,
                tls: true,
            };
            tokio::spawn(async move {
                let stream =
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(stream)) => stream,
                        Ok(Err(error)) => {
                            tracing::debug!(%peer, %error, "TLS handshake failed");
                            return;
                        }
                        Err(_) => {
                            tracing::debug!(%peer, "TLS handshake timed out");
                            return;
                        }
                    };
                proxy.serve_client(stream, client).await;
            });
        }
    }

    fn tls_config(&self, certs: Arc<CertStore>) -> std::io::Result<ServerConfig> {
        let resolver = SniResolver {
            store: certs,
            routes: self.routes.clone(),
            app_domain: self.config.app_domain.clone(),
        };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(std::io::Error::other)?
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(resolver));
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(config)
    }
}
