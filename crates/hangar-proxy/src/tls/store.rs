//! Where certificates come from: operator files and self-signed ones.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;

use crate::host::app_for_host;
use crate::routes::RouteTable;
use crate::tls::self_signed;

/// File-name prefix standing for `*.` in an operator certificate's name.
const WILDCARD_PREFIX: &str = "_wildcard.";

/// Why certificates could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum CertStoreError {
    #[error("cannot read the certificate directory {path}: {source}")]
    ReadDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read {path}: {source}; check that it is a PEM file the proxy may read")]
    Pem {
        path: PathBuf,
        source: rustls::pki_types::pem::Error,
    },
    #[error("{path} holds no certificate; put the chain in PEM, leaf first")]
    NoCertificate { path: PathBuf },
    #[error("{cert} has no matching key file {key}; add it or remove the certificate")]
    MissingKey { cert: PathBuf, key: PathBuf },
    #[error("the key in {path} is of a kind rustls cannot sign with: {source}")]
    UnsupportedKey {
        path: PathBuf,
        source: rustls::Error,
    },
}

/// A certificate ready to serve, with its PEM text.
#[derive(Clone)]
pub(crate) struct StoredCert {
    pub(crate) key: Arc<CertifiedKey>,
    pub(crate) pem: String,
}

/// Certificates by host name: the operator's, then self-signed ones made on
/// demand for app hosts. Shared by every TLS listener of a proxy.
#[derive(Default)]
pub struct CertStore {
    /// Exact host name → operator certificate.
    operator: HashMap<String, StoredCert>,
    /// Parent domain (`example.com` for `*.example.com`) → operator certificate.
    operator_wildcards: HashMap<String, StoredCert>,
    /// Certificates obtained by ACME for custom domains, by host name.
    acme: Mutex<HashMap<String, StoredCert>>,
    /// Self-signed certificates made so far, by host name.
    self_signed: Mutex<HashMap<String, StoredCert>>,
    /// Where self-signed certificates are kept across restarts, if anywhere.
    self_signed_dir: Option<PathBuf>,
}

impl std::fmt::Debug for CertStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertStore")
            .field("operator_hosts", &self.operator_hosts())
            .field("self_signed_dir", &self.self_signed_dir)
            .finish()
    }
}

impl CertStore {
    /// A store without operator certificates: every app host gets a
    /// self-signed certificate, kept in memory only.
    pub fn new() -> CertStore {
        CertStore::default()
    }

    /// A store with the operator certificates of `dir`: every
    /// `<hostname>.crt` with its `<hostname>.key` (PEM), a wildcard
    /// `*.example.com` named `_wildcard.example.com.crt`. Other files are
    /// ignored.
    pub fn from_dir(dir: impl AsRef<Path>) -> Result<CertStore, CertStoreError> {
        let dir = dir.as_ref();
        let read_dir = |source| CertStoreError::ReadDir {
            path: dir.to_path_buf(),
            source,
        };
        let mut store = CertStore::new();
        for entry in std::fs::read_dir(dir).map_err(read_dir)? {
            let path = entry.map_err(read_dir)?.path();
            let Some(name) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".crt"))
            else {
                continue;
            };
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            let key_path = path.with_extension("key");
            if !key_path.exists() {
                return Err(CertStoreError::MissingKey {
                    cert: path,
                    key: key_path,
                });
            }
            let cert = load_pair(&path, &key_path)?;
            match name.strip_prefix(WILDCARD_PREFIX) {
                Some(parent) => store.operator_wildcards.insert(parent.to_string(), cert),
                None => store.operator.insert(name, cert),
            };
        }
        Ok(store)
    }

    /// Keeps self-signed certificates in `dir` (as `<hostname>.crt` and
    /// `<hostname>.key`), so that a restarted proxy serves the same ones.
    pub fn with_self_signed_dir(mut self, dir: impl Into<PathBuf>) -> CertStore {
        self.self_signed_dir = Some(dir.into());
        self
    }

    /// The host names with an operator certificate, wildcards as `*.domain`.
    pub fn operator_hosts(&self) -> Vec<String> {
        let mut hosts: Vec<String> = self.operator.keys().cloned().collect();
        hosts.extend(self.operator_wildcards.keys().map(|d| format!("*.{d}")));
        hosts.sort();
        hosts
    }

    /// The PEM of the certificate served for `host`, if one is loaded or
    /// was made already (this never makes one).
    pub fn certificate_pem(&self, host: &str) -> Option<String> {
        let host = normalize(host);
        self.operator_cert(&host)
            .or_else(|| self.acme_cert(&host))
            .or_else(|| self.lock_self_signed().get(&host).cloned())
            .map(|c| c.pem)
    }

    /// The certificate for a client's SNI `host`: the operator's, or a
    /// self-signed one when `host` is `<app>.<app_domain>` and the app is in
    /// `routes`; `None` refuses the handshake.
    pub(crate) fn resolve(
        &self,
        host: &str,
        app_domain: &str,
        routes: &RouteTable,
    ) -> Option<Arc<CertifiedKey>> {
        let host = normalize(host);
        if let Some(cert) = self.operator_cert(&host).or_else(|| self.acme_cert(&host)) {
            return Some(cert.key);
        }
        let app = app_for_host(&host, app_domain).filter(|a| !a.contains('.'))?;
        if !routes.has_app(&app) {
            tracing::debug!(%host, "TLS handshake refused: no such app");
            return None;
        }
        let mut cache = self.lock_self_signed();
        if let Some(cert) = cache.get(&host) {
            return Some(cert.key.clone());
        }
        match self_signed::obtain(&host, self.self_signed_dir.as_deref()) {
            Ok(cert) => {
                let key = cert.key.clone();
                cache.insert(host, cert);
                Some(key)
            }
            Err(error) => {
                tracing::warn!(%host, %error, "cannot make a self-signed certificate");
                None
            }
        }
    }

    /// True when an operator certificate (exact or wildcard) covers `host`.
    pub fn operator_covers(&self, host: &str) -> bool {
        self.operator_cert(&normalize(host)).is_some()
    }

    /// Serves `cert` for `host` from now on (an ACME certificate).
    pub(crate) fn set_acme(&self, host: &str, cert: StoredCert) {
        lock(&self.acme).insert(normalize(host), cert);
    }

    /// Stops serving the ACME certificate of `host`.
    pub(crate) fn remove_acme(&self, host: &str) {
        lock(&self.acme).remove(&normalize(host));
    }

    fn acme_cert(&self, host: &str) -> Option<StoredCert> {
        lock(&self.acme).get(host).cloned()
    }

    fn operator_cert(&self, host: &str) -> Option<StoredCert> {
        self.operator
            .get(host)
            .or_else(|| {
                let (_, parent) = host.split_once('.')?;
                self.operator_wildcards.get(parent)
            })
            .cloned()
    }

    fn lock_self_signed(&self) -> std::sync::MutexGuard<'_, HashMap<String, StoredCert>> {
        lock(&self.self_signed)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn normalize(host: &str) -> String {
    host.trim_end_matches('.').to_ascii_lowercase()
}

/// Reads a PEM chain and its key into a certificate rustls can serve.
pub(crate) fn load_pair(cert_path: &Path, key_path: &Path) -> Result<StoredCert, CertStoreError> {
    let pem_error = |path: &Path| {
        let path = path.to_path_buf();
        move |source| CertStoreError::Pem { path, source }
    };
    let chain = CertificateDer::pem_file_iter(cert_path)
        .map_err(pem_error(cert_path))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(pem_error(cert_path))?;
    if chain.is_empty() {
        return Err(CertStoreError::NoCertificate {
            path: cert_path.to_path_buf(),
        });
    }
    let key = PrivateKeyDer::from_pem_file(key_path).map_err(pem_error(key_path))?;
    let pem = std::fs::read_to_string(cert_path).map_err(|source| CertStoreError::Pem {
        path: cert_path.to_path_buf(),
        source: rustls::pki_types::pem::Error::Io(source),
    })?;
    certified(chain, key, pem).map_err(|source| CertStoreError::UnsupportedKey {
        path: key_path.to_path_buf(),
        source,
    })
}

/// Pairs a chain with its signing key.
pub(crate) fn certified(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    pem: String,
) -> Result<StoredCert, rustls::Error> {
    let signing_key = rustls::crypto::ring::sign::any_supported_type(&key)?;
    Ok(StoredCert {
        key: Arc::new(CertifiedKey::new(chain, signing_key)),
        pem,
    })
}
