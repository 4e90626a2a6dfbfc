//! ACME for custom domains (reference §4.6): for every hostname of
//! [`RouteTable::custom_domains`] that no operator certificate covers, the
//! manager orders a certificate over HTTP-01 (the proxy's HTTP listener
//! answers `/.well-known/acme-challenge/<token>` before routing), keeps it
//! on disk, serves it by SNI and renews it when less than
//! [`AcmeConfig::renew_before`] remains. [`Proxy::acme_status`] tells how
//! each hostname stands.

mod expiry;
mod http;
mod issue;
mod store;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::HeaderValue;
use hyper::Response;
use instant_acme::Account;
use tokio::task::JoinHandle;

use crate::proxy::Proxy;
use crate::routes::RouteTable;
use crate::tls::{load_pair, CertStore};

/// Path prefix of HTTP-01 challenges.
const CHALLENGE_PREFIX: &str = "/.well-known/acme-challenge/";

/// Where and how the proxy obtains certificates for custom domains.
#[derive(Debug, Clone)]
pub struct AcmeConfig {
    /// The ACME directory, e.g.
    /// `https://acme-v02.api.letsencrypt.org/directory`.
    pub directory_url: String,
    /// Contact registered with the ACME account (`mailto:` is added).
    pub contact_email: Option<String>,
    /// A PEM CA certificate trusted for the ACME server besides the web
    /// PKI roots (a test server such as pebble).
    pub extra_root_pem: Option<PathBuf>,
    /// Where issued certificates (`<hostname>.crt`, `<hostname>.key`, mode
    /// 0600) and the account are kept. Not the operator certificate
    /// directory: files there count as operator certificates.
    pub cert_dir: PathBuf,
    /// Renew a certificate when less than this remains (30 days).
    pub renew_before: Duration,
    /// How often hostnames are looked over, besides on every new route
    /// table.
    pub check_interval: Duration,
    /// How long after a failed order the hostname is tried again.
    pub retry_after_failure: Duration,
}

impl AcmeConfig {
    /// Settings for `directory_url` keeping certificates in `cert_dir`,
    /// other fields at their defaults.
    pub fn new(directory_url: impl Into<String>, cert_dir: impl Into<PathBuf>) -> AcmeConfig {
        AcmeConfig {
            directory_url: directory_url.into(),
            contact_email: None,
            extra_root_pem: None,
            cert_dir: cert_dir.into(),
            renew_before: Duration::from_secs(30 * 24 * 3600),
            check_interval: Duration::from_secs(60),
            retry_after_failure: Duration::from_secs(300),
        }
    }
}

/// How a custom domain's certificate stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AcmeStatus {
    /// An operator certificate covers the hostname; ACME is not used.
    Operator,
    /// An order is in progress (or about to start).
    Pending,
    /// A certificate is served; it expires at `not_after`.
    Issued { not_after: SystemTime },
    /// The last order failed; it is retried later. A certificate issued
    /// before (if any) is still served.
    Failed { reason: String },
}

/// The ACME manager's shared state.
#[derive(Default)]
pub(crate) struct AcmeState {
    /// Challenge token → key authorization, served over HTTP.
    challenges: Mutex<HashMap<String, String>>,
    statuses: Mutex<BTreeMap<String, AcmeStatus>>,
    /// Expiry of the certificates served, by hostname.
    expiries: Mutex<HashMap<String, SystemTime>>,
    failed_at: Mutex<HashMap<String, Instant>>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl AcmeState {
    /// The key authorization answering an HTTP-01 challenge at `path`.
    pub(crate) fn challenge_response(&self, path: &str) -> Option<Response<Full<Bytes>>> {
        let token = path.strip_prefix(CHALLENGE_PREFIX)?;
        let key_authorization = lock(&self.challenges).get(token)?.clone();
        let mut response = Response::new(Full::new(Bytes::from(key_authorization)));
        response.headers_mut().insert(
            hyper::header::CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        );
        Some(response)
    }

    fn set_status(&self, host: &str, status: AcmeStatus) {
        lock(&self.statuses).insert(host.to_string(), status);
    }
}

/// Whether a certificate expiring at `not_after` is due for renewal.
fn needs_renewal(not_after: SystemTime, renew_before: Duration, now: SystemTime) -> bool {
    not_after
        .duration_since(now)
        .map_or(true, |left| left < renew_before)
}

impl Proxy {
    /// Every custom domain's certificate status, by hostname (empty without
    /// ACME configured).
    pub fn acme_status(&self) -> BTreeMap<String, AcmeStatus> {
        self.acme
            .as_ref()
            .map_or_else(BTreeMap::new, |state| lock(&state.statuses).clone())
    }

    /// Runs the ACME manager when [`ProxyConfig::acme`](crate::ProxyConfig::acme)
    /// is set (else returns `None`): certificates obtained go into `certs`,
    /// which the TLS listeners must share.
    pub fn spawn_acme(self: &Arc<Self>, certs: Arc<CertStore>) -> Option<JoinHandle<()>> {
        let config = self.config.acme.clone()?;
        let state = self.acme.clone()?;
        let mut routes = self.routes.clone();
        Some(tokio::spawn(async move {
            let mut account: Option<Account> = None;
            loop {
                let table = routes.borrow_and_update().clone();
                pass(&config, &state, &certs, &table, &mut account).await;
                tokio::select! {
                    changed = routes.changed() => {
                        if changed.is_err() {
                            // The host is gone: keep renewing from the last snapshot.
                            tokio::time::sleep(config.check_interval).await;
                        }
                    }
                    _ = tokio::time::sleep(config.check_interval) => {}
                }
            }
        }))
    }
}

/// Looks over every custom domain once: loads saved certificates, orders
/// missing or expiring ones.
async fn pass(
    config: &AcmeConfig,
    state: &AcmeState,
    certs: &CertStore,
    table: &RouteTable,
    account: &mut Option<Account>,
) {
    lock(&state.statuses).retain(|host, _| table.custom_domains.contains_key(host));
    for host in table.custom_domains.keys() {
        if certs.operator_covers(host) {
            state.set_status(host, AcmeStatus::Operator);
            certs.remove_acme(host);
            continue;
        }
        let now = SystemTime::now();
        let served = lock(&state.expiries).get(host).copied();
        if let Some(not_after) = served {
            if !needs_renewal(not_after, config.renew_before, now) {
                continue;
            }
        } else if let Some((cert, not_after)) = store::load(&config.cert_dir, host) {
            certs.set_acme(host, cert);
            lock(&state.expiries).insert(host.clone(), not_after);
            state.set_status(host, AcmeStatus::Issued { not_after });
            if !needs_renewal(not_after, config.renew_before, now) {
                continue;
            }
        }
        let recently_failed = lock(&state.failed_at)
            .get(host)
            .is_some_and(|at| at.elapsed() < config.retry_after_failure);
        if recently_failed {
            continue;
        }
        if !lock(&state.expiries).contains_key(host) {
            state.set_status(host, AcmeStatus::Pending);
        }
        match obtain(config, state, certs, host, account).await {
            Ok(not_after) => {
                tracing::info!(%host, "ACME certificate issued");
                lock(&state.failed_at).remove(host);
                lock(&state.expiries).insert(host.clone(), not_after);
                state.set_status(host, AcmeStatus::Issued { not_after });
            }
            Err(reason) => {
                tracing::warn!(%host, %reason, "ACME order failed");
                lock(&state.failed_at).insert(host.clone(), Instant::now());
                state.set_status(host, AcmeStatus::Failed { reason });
            }
        }
    }
}

/// Orders, saves and loads a certificate for `host`; returns its expiry.
async fn obtain(
    config: &AcmeConfig,
    state: &AcmeState,
    certs: &CertStore,
    host: &str,
    account: &mut Option<Account>,
) -> Result<SystemTime, String> {
    if account.is_none() {
        *account = Some(issue::account(config).await?);
    }
    let Some(account) = account.as_ref() else {
        return Err("no ACME account".to_string());
    };
    let issued = issue::order(account, host, &state.challenges).await?;
    store::save(&config.cert_dir, host, &issued.chain_pem, &issued.key_pem).map_err(|e| {
        format!(
            "cannot save the certificate in {}: {e}",
            config.cert_dir.display()
        )
    })?;
    let (cert_path, key_path) = store::paths(&config.cert_dir, host);
    let cert = load_pair(&cert_path, &key_path).map_err(|e| e.to_string())?;
    let not_after = cert
        .key
        .cert
        .first()
        .and_then(|leaf| expiry::not_after(leaf.as_ref()))
        .ok_or("the issued certificate has no readable expiry")?;
    certs.set_acme(host, cert);
    Ok(not_after)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renews_inside_the_window_only() {
        let now = SystemTime::now();
        let day = Duration::from_secs(86_400);
        let window = 30 * day;
        assert!(!needs_renewal(now + 31 * day, window, now));
        assert!(needs_renewal(now + 29 * day, window, now));
        assert!(needs_renewal(now - day, window, now), "expired");
    }

    #[test]
    fn challenges_are_answered_by_token_only() {
        let state = AcmeState::default();
        lock(&state.challenges).insert("tok".into(), "tok.thumb".into());
        assert!(state
            .challenge_response("/.well-known/acme-challenge/tok")
            .is_some());
        assert!(state
            .challenge_response("/.well-known/acme-challenge/other")
            .is_none());
        assert!(state.challenge_response("/tok").is_none());
    }
}
