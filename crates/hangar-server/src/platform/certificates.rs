//! Custom domains of apps (Fly's certificates API): each hostname belongs to
//! one app, is stored at `edge/certificates/{hostname}` and routes to that
//! app on every proxy. Issuance is each proxy's ACME manager's business: the
//! proxy beside the control plane tells its status through
//! [`CertificateStatusSource`], proxies running apart report theirs
//! (`certificate_reports.rs`), and the API shows them combined; `pending`
//! while no proxy has said anything.

use std::sync::Arc;

use hangar_store::StoreExt;
use serde::{Deserialize, Serialize};

use crate::http::error::{HttpError, HttpResult};
use crate::platform::certificate_reports::{self, ProxyCertificateReport};
use crate::platform::{now_rfc3339, ControlPlane};

/// Custom domains live under this prefix, one key per hostname.
pub const PREFIX: &str = "edge/certificates/";

/// A custom domain as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CertificateRecord {
    /// Lowercase, no trailing dot; `*.example.com` for a wildcard.
    pub hostname: String,
    pub app: String,
    pub created_at: String,
    /// Issuance by ACME was asked for (`POST …/certificates/acme`).
    pub acme_requested: bool,
}

/// Tells the certificate status of a hostname, e.g. from a proxy's ACME
/// manager: `pending`, `ready`, `failed: <reason>`… `None`: unknown.
pub trait CertificateStatusSource: Send + Sync + 'static {
    fn status(&self, hostname: &str) -> Option<String>;
}

/// A certificate as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Certificate {
    pub hostname: String,
    /// `pending` until a certificate is issued, then `ready`.
    pub status: String,
    /// True once a certificate for the hostname is in place.
    pub configured: bool,
    pub acme_requested: bool,
    pub certificate_authority: String,
    pub created_at: String,
    /// Where to point the hostname's DNS (CNAME).
    pub dns_target: String,
}

/// `POST /v1/apps/{app}/certificates/acme` body.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct AddCertificateRequest {
    /// The custom hostname, e.g. `shop.example.com` or `*.example.com`.
    pub hostname: String,
}

fn key(hostname: &str) -> String {
    format!("{PREFIX}{hostname}")
}

/// Lowercases and checks a hostname: DNS labels of letters, digits and
/// dashes, at least two labels, an optional leading `*.` wildcard.
pub fn normalize_hostname(raw: &str) -> Result<String, String> {
    let host = raw.trim().trim_end_matches('.').to_ascii_lowercase();
    let bare = host.strip_prefix("*.").unwrap_or(&host);
    let labels: Vec<&str> = bare.split('.').collect();
    let label_ok = |l: &&str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    if host.len() > 253 || labels.len() < 2 || !labels.iter().all(label_ok) {
        return Err(format!(
            "invalid hostname {raw:?}: give a domain name such as shop.example.com or *.example.com"
        ));
    }
    Ok(host)
}

impl ControlPlane {
    /// The API view of `record`, its status combined from this host's proxy
    /// and the `reports` of proxies running apart.
    fn certificate_view(
        &self,
        record: &CertificateRecord,
        reports: &[(String, ProxyCertificateReport)],
    ) -> Certificate {
        let local = self
            .certificate_status
            .get()
            .and_then(|source| source.status(&record.hostname));
        let mut statuses: Vec<(&str, &str)> = Vec::new();
        if let Some(local) = &local {
            statuses.push(("beside the control plane", local));
        }
        for (proxy, report) in reports {
            if let Some(status) = report.statuses.get(&record.hostname) {
                statuses.push((proxy, status));
            }
        }
        let status = certificate_reports::combine(&statuses).unwrap_or_else(|| "pending".into());
        Certificate {
            hostname: record.hostname.clone(),
            configured: status == "ready",
            status,
            acme_requested: record.acme_requested,
            certificate_authority: "lets_encrypt".into(),
            created_at: record.created_at.clone(),
            dns_target: format!("{}.{}", record.app, "hangar.internal"),
        }
    }

    /// Where certificate statuses come from (set once, by the host that runs
    /// a proxy beside the control plane).
    pub fn set_certificate_status_source(&self, source: Arc<dyn CertificateStatusSource>) {
        let _ = self.certificate_status.set(source);
    }

    /// Adds a custom domain for ACME issuance. 201 when new, 200 when the app
    /// already has it, 409 when another app has it.
    pub async fn add_certificate(
        &self,
        app: &str,
        hostname: &str,
    ) -> HttpResult<(bool, Certificate)> {
        self.app(app).await?;
        let hostname = normalize_hostname(hostname).map_err(HttpError::unprocessable)?;
        let record = CertificateRecord {
            hostname: hostname.clone(),
            app: app.to_string(),
            created_at: now_rfc3339(),
            acme_requested: true,
        };
        match self.store.cas_json(&key(&hostname), &record, 0).await? {
            Ok(_) => Ok((true, self.certificate_view(&record, &[]))),
            Err(_) => {
                let existing = self.certificate_record(&hostname).await?;
                match existing {
                    Some(existing) if existing.app == app => {
                        let reports = self.fresh_certificate_reports().await?;
                        Ok((false, self.certificate_view(&existing, &reports)))
                    }
                    Some(existing) => Err(HttpError::conflict(format!(
                        "hostname {hostname} already belongs to app {}; remove it there first",
                        existing.app
                    ))),
                    None => Err(HttpError::conflict(format!(
                        "hostname {hostname} changed concurrently; retry"
                    ))),
                }
            }
        }
    }

    async fn certificate_record(&self, hostname: &str) -> HttpResult<Option<CertificateRecord>> {
        Ok(self
            .store
            .get_json::<CertificateRecord>(&key(hostname))
            .await?
            .map(|(r, _)| r))
    }

    /// The app's custom domains, by hostname.
    pub async fn list_certificates(&self, app: &str) -> HttpResult<Vec<Certificate>> {
        self.app(app).await?;
        let records = self.store.list_json::<CertificateRecord>(PREFIX).await?;
        let reports = self.fresh_certificate_reports().await?;
        Ok(records
            .into_iter()
            .filter(|(_, r, _)| r.app == app)
            .map(|(_, r, _)| self.certificate_view(&r, &reports))
            .collect())
    }

    /// One custom domain of the app, or 404.
    pub async fn certificate(&self, app: &str, hostname: &str) -> HttpResult<Certificate> {
        self.app(app).await?;
        let hostname = normalize_hostname(hostname).map_err(HttpError::unprocessable)?;
        match self.certificate_record(&hostname).await? {
            Some(record) if record.app == app => {
                let reports = self.fresh_certificate_reports().await?;
                Ok(self.certificate_view(&record, &reports))
            }
            _ => Err(HttpError::not_found(format!(
                "app {app} has no certificate for {hostname}: add it with POST /v1/apps/{app}/certificates/acme"
            ))),
        }
    }

    /// Removes a custom domain of the app; it stops routing on every proxy.
    pub async fn delete_certificate(&self, app: &str, hostname: &str) -> HttpResult<Certificate> {
        let certificate = self.certificate(app, hostname).await?;
        self.store.delete(&key(&certificate.hostname)).await?;
        Ok(certificate)
    }
}

#[cfg(test)]
mod tests {
    use super::normalize_hostname;

    #[test]
    fn hostnames_are_normalized_and_bad_ones_refused() {
        assert_eq!(
            normalize_hostname("Shop.Example.com.").unwrap(),
            "shop.example.com"
        );
        assert_eq!(
            normalize_hostname("*.example.com").unwrap(),
            "*.example.com"
        );
        for bad in ["localhost", "a..b", "-a.com", "a_b.com", "*.com*", ""] {
            assert!(normalize_hostname(bad).is_err(), "{bad} accepted");
        }
    }
}
