//! Self-signed certificates for app hosts, optionally kept on disk.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::tls::store::{certified, load_pair, StoredCert};

/// Why a self-signed certificate could not be made.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SelfSignedError {
    #[error("certificate generation failed: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("the generated key is unusable: {0}")]
    Key(#[from] rustls::Error),
}

/// The self-signed certificate for `host`: from `dir` when a readable one is
/// there, else a new one (written to `dir` when given).
pub(crate) fn obtain(host: &str, dir: Option<&Path>) -> Result<StoredCert, SelfSignedError> {
    if let Some(dir) = dir {
        let (cert_path, key_path) = paths(dir, host);
        if cert_path.exists() && key_path.exists() {
            match load_pair(&cert_path, &key_path) {
                Ok(cert) => return Ok(cert),
                Err(error) => {
                    tracing::warn!(%error, "replacing an unreadable self-signed certificate")
                }
            }
        }
    }
    let generated = rcgen::generate_simple_self_signed(vec![host.to_string()])?;
    let cert_pem = generated.cert.pem();
    let key_pem = generated.key_pair.serialize_pem();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(generated.key_pair.serialize_der()));
    let cert = certified(vec![generated.cert.der().clone()], key, cert_pem.clone())?;
    if let Some(dir) = dir {
        if let Err(error) = save(dir, host, &cert_pem, &key_pem) {
            tracing::warn!(%host, dir = %dir.display(), %error, "cannot keep the self-signed certificate on disk");
        }
    }
    Ok(cert)
}

fn paths(dir: &Path, host: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    (
        dir.join(format!("{host}.crt")),
        dir.join(format!("{host}.key")),
    )
}

fn save(dir: &Path, host: &str, cert_pem: &str, key_pem: &str) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let (cert_path, key_path) = paths(dir, host);
    // The key first, readable by the proxy's user only.
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&key_path)?
        .write_all(key_pem.as_bytes())?;
    std::fs::write(cert_path, cert_pem)
}
