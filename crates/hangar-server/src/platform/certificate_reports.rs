//! Certificate statuses reported by edge proxies that run apart from the
//! control plane (`hangar proxy`): each proxy keeps one record at
//! `proxies/{proxy_id}/certificates` with what its ACME manager says of
//! every custom domain, and the certificates API combines the fresh ones
//! with the status of the proxy running beside the control plane, if any.
//!
//! The records live outside `edge/` on purpose: route state is everything
//! under `edge/`, and a status report must not wake every proxy's route
//! stream.

use std::collections::BTreeMap;

use hangar_store::StoreExt;
use serde::{Deserialize, Serialize};

use crate::http::error::{HttpError, HttpResult};
use crate::platform::{now_secs, ControlPlane};

/// Proxy reports live under this prefix, one key per proxy.
pub const PREFIX: &str = "proxies/";

/// A report older than this is left out: its proxy is gone or cut off.
pub const FRESH_FOR_SECS: i64 = 300;

/// What one proxy says of the custom domains it serves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ProxyCertificateReport {
    /// Hostname → `pending`, `ready` or `failed: <reason>`.
    pub statuses: BTreeMap<String, String>,
    /// Set by the control plane when the report arrives (unix seconds).
    #[serde(default)]
    pub reported_at: i64,
}

fn key(proxy_id: &str) -> String {
    format!("{PREFIX}{proxy_id}/certificates")
}

/// A proxy id: letters, digits, `-` and `_`, 1 to 64 of them.
fn valid_proxy_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// One hostname's status across proxies: `failed: …` when any proxy failed
/// (naming it when several report), `ready` when every one serves a
/// certificate, else `pending`. `None` when no proxy knows the hostname.
pub fn combine(statuses: &[(&str, &str)]) -> Option<String> {
    if statuses.is_empty() {
        return None;
    }
    if let Some((proxy, failed)) = statuses.iter().find(|(_, s)| s.starts_with("failed")) {
        return Some(if statuses.len() > 1 {
            format!("{failed} (on proxy {proxy})")
        } else {
            failed.to_string()
        });
    }
    if statuses.iter().all(|(_, s)| *s == "ready") {
        return Some("ready".into());
    }
    Some("pending".into())
}

impl ControlPlane {
    /// Stores a proxy's report, stamped with the time it arrived.
    pub async fn report_certificate_statuses(
        &self,
        proxy_id: &str,
        mut report: ProxyCertificateReport,
    ) -> HttpResult<()> {
        if !valid_proxy_id(proxy_id) {
            return Err(HttpError::unprocessable(format!(
                "invalid proxy id {proxy_id:?}: use 1 to 64 letters, digits, '-' or '_'"
            )));
        }
        report.reported_at = now_secs();
        self.store.put_json(&key(proxy_id), &report).await?;
        Ok(())
    }

    /// The reports of proxies heard from within [`FRESH_FOR_SECS`], by proxy id.
    pub(crate) async fn fresh_certificate_reports(
        &self,
    ) -> HttpResult<Vec<(String, ProxyCertificateReport)>> {
        let oldest = now_secs() - FRESH_FOR_SECS;
        let reports = self
            .store
            .list_json::<ProxyCertificateReport>(PREFIX)
            .await?;
        Ok(reports
            .into_iter()
            .filter(|(_, report, _)| report.reported_at >= oldest)
            .filter_map(|(key, report, _)| {
                let id = key.strip_prefix(PREFIX)?.strip_suffix("/certificates")?;
                Some((id.to_string(), report))
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_combine_across_proxies() {
        assert_eq!(combine(&[]), None);
        assert_eq!(combine(&[("a", "ready")]).unwrap(), "ready");
        assert_eq!(
            combine(&[("a", "ready"), ("b", "pending")]).unwrap(),
            "pending"
        );
        assert_eq!(
            combine(&[("a", "failed: no DNS")]).unwrap(),
            "failed: no DNS"
        );
        assert_eq!(
            combine(&[("a", "ready"), ("b", "failed: no DNS")]).unwrap(),
            "failed: no DNS (on proxy b)"
        );
    }

    #[test]
    fn proxy_ids_are_checked() {
        assert!(valid_proxy_id("prx-0a1b_2"));
        for bad in ["", "a/b", "a b", &"x".repeat(65)] {
            assert!(!valid_proxy_id(bad), "{bad:?} accepted");
        }
    }
}
