//! Picks the certificate for a handshake by its SNI name.

use std::sync::Arc;

use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio::sync::watch;

use crate::routes::RouteTable;
use crate::tls::CertStore;

/// Resolves SNI names through a [`CertStore`] against the latest routes.
pub(crate) struct SniResolver {
    pub(crate) store: Arc<CertStore>,
    pub(crate) routes: watch::Receiver<Arc<RouteTable>>,
    pub(crate) app_domain: String,
}

impl std::fmt::Debug for SniResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SniResolver")
            .field("store", &self.store)
            .field("app_domain", &self.app_domain)
            .finish()
    }
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let Some(host) = hello.server_name() else {
            tracing::debug!("TLS handshake refused: the client sent no SNI name");
            return None;
        };
        let routes = self.routes.borrow().clone();
        self.store.resolve(host, &self.app_domain, &routes)
    }
}
