//! Accepting TLS client connections.

use std::sync::Arc;
use std::time::Duration;

use rustls::ServerConfig;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::headers::ClientConn;
use crate::host::app_of_host;
use crate::proxy::Proxy;
use crate::server::is_transient;
use crate::tcp::{tls_service, TLS_TCP};
use crate::tls::resolver::SniResolver;
use crate::tls::CertStore;

/// How long a client may take to finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

impl Proxy {
    /// Serves HTTP/1.1 and HTTP/2 over TLS on `listener`: the client's SNI
    /// name picks the certificate from `certs` (unknown names are refused),
    /// ALPN offers `h2` and `http/1.1`. When the SNI's app has a TLS-only
    /// service on `public_port` (handlers `["tls"]` or
    /// `["tls", "proxy_proto"]`), the decrypted bytes go to its Machine as
    /// raw TCP instead. `public_port` is the port clients
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
            self.spawn_connection(stream, move |stream| async move {
                let Ok(local) = stream.local_addr() else {
                    return;
                };
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
                let sni_app = stream.get_ref().1.server_name().and_then(|name| {
                    let table = proxy.routes.borrow().clone();
                    app_of_host(name, &proxy.config.app_domain, &table)
                });
                if let Some(app) = &sni_app {
                    if proxy.serves_tls_only(app, public_port) {
                        proxy
                            .splice(stream, peer, local, app, public_port, TLS_TCP)
                            .await;
                        return;
                    }
                }
                if stream.get_ref().1.alpn_protocol() == Some(b"h2") {
                    proxy.serve_hyper(stream, client, sni_app).await;
                } else {
                    proxy.serve_client(stream, client, sni_app).await;
                }
            });
        }
    }

    /// True when `app` has a TLS-only service (`["tls"]`, no `http`) on
    /// `public_port`: its decrypted connections are spliced as raw TCP.
    fn serves_tls_only(&self, app: &str, public_port: u16) -> bool {
        let table = self.routes.borrow().clone();
        table
            .machines
            .iter()
            .any(|m| m.app == app && tls_service(m, public_port).is_some())
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
