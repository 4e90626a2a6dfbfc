//! ACME certificates on disk: `<hostname>.crt` (chain, leaf first) and
//! `<hostname>.key`, both mode 0600, in the ACME certificate directory.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::acme::expiry;
use crate::tls::{load_pair, StoredCert};

/// Writes `name` in `dir` readable by the proxy's user only, replacing it
/// whole (written beside, then renamed).
pub(crate) fn write_private(dir: &Path, name: &str, contents: &str) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let partial = dir.join(format!(".{name}.partial"));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&partial)?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(partial, dir.join(name))
}

pub(crate) fn paths(dir: &Path, host: &str) -> (PathBuf, PathBuf) {
    (
        dir.join(format!("{host}.crt")),
        dir.join(format!("{host}.key")),
    )
}

/// Saves an issued certificate and its key.
pub(crate) fn save(dir: &Path, host: &str, chain_pem: &str, key_pem: &str) -> std::io::Result<()> {
    write_private(dir, &format!("{host}.key"), key_pem)?;
    write_private(dir, &format!("{host}.crt"), chain_pem)
}

/// The saved certificate of `host` and when it expires, if one is there
/// and readable.
pub(crate) fn load(dir: &Path, host: &str) -> Option<(StoredCert, SystemTime)> {
    let (cert_path, key_path) = paths(dir, host);
    if !cert_path.exists() || !key_path.exists() {
        return None;
    }
    match load_pair(&cert_path, &key_path) {
        Ok(cert) => {
            let not_after = expiry::not_after(cert.key.cert.first()?.as_ref())?;
            Some((cert, not_after))
        }
        Err(error) => {
            tracing::warn!(%host, %error, "ignoring an unreadable ACME certificate");
            None
        }
    }
}
