//! A standalone proxy's certificate statuses, reported to the control plane
//! (`PUT /v1/internal/proxies/{id}/certificates`) whenever they change and
//! at least every [`HEARTBEAT`], so that the certificates API tells how
//! issuance went on proxies that run apart from it.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::proxy_host::acme_status_text;

/// How often statuses are looked at for changes.
const POLL_EVERY: Duration = Duration::from_secs(1);

/// A report is sent at least this often (the control plane drops reports
/// older than five minutes).
const HEARTBEAT: Duration = Duration::from_secs(60);

/// The file under the state dir holding the proxy's id.
pub const PROXY_ID_FILE: &str = "proxy-id";

/// The proxy's id, made once (`prx-` and 12 hex digits) and kept in
/// `state_dir` so that a restarted proxy reports under the same name.
pub fn load_or_create_proxy_id(state_dir: &Path) -> anyhow::Result<String> {
    let path = state_dir.join(PROXY_ID_FILE);
    if let Ok(id) = std::fs::read_to_string(&path) {
        let id = id.trim();
        if !id.is_empty() {
            return Ok(id.to_string());
        }
    }
    let bytes: [u8; 6] = rand::random();
    let id = format!("prx-{}", hex::encode(bytes));
    std::fs::write(&path, &id).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(id)
}

/// Reports `proxy`'s ACME statuses as proxy `proxy_id`.
pub struct CertificateReporter {
    pub control_plane: String,
    pub token: String,
    pub proxy_id: String,
    pub proxy: Arc<hangar_proxy::Proxy>,
}

impl CertificateReporter {
    /// Runs until aborted; failures are logged and retried on the next poll.
    pub async fn run(self) {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("an HTTP client with a timeout builds");
        let url = format!(
            "{}/v1/internal/proxies/{}/certificates",
            self.control_plane.trim_end_matches('/'),
            self.proxy_id
        );
        let mut sent: Option<(BTreeMap<String, String>, Instant)> = None;
        let mut failing = false;
        loop {
            let statuses: BTreeMap<String, String> = self
                .proxy
                .acme_status()
                .iter()
                .map(|(host, status)| (host.clone(), acme_status_text(status)))
                .collect();
            let due = match &sent {
                Some((last, at)) => *last != statuses || at.elapsed() >= HEARTBEAT,
                None => !statuses.is_empty(),
            };
            if due {
                let body = serde_json::json!({ "statuses": statuses });
                let result = http
                    .put(&url)
                    .bearer_auth(&self.token)
                    .json(&body)
                    .send()
                    .await
                    .and_then(|r| r.error_for_status());
                match result {
                    Ok(_) => {
                        if failing {
                            tracing::info!("certificate statuses reach the control plane again");
                        }
                        failing = false;
                        sent = Some((statuses, Instant::now()));
                    }
                    Err(err) if !failing => {
                        failing = true;
                        tracing::warn!(%err, "cannot report certificate statuses to the control plane; retrying");
                    }
                    Err(_) => {}
                }
            }
            tokio::time::sleep(POLL_EVERY).await;
        }
    }
}
