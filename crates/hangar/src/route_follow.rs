//! Follows the control plane's route stream (`GET /v1/internal/routes?watch=true`)
//! for a standalone proxy: every accepted snapshot is persisted, then
//! published to the proxy. While the control plane is unreachable the proxy
//! keeps its last snapshot and the stream is retried with backoff.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use hangar_proxy::RouteTable;
use hangar_server::platform::routes::{RouteSnapshot, RouteStreamEvent};
use tokio::sync::watch;

use crate::route_state;

/// A stream silent this long is considered dead (the server sends a
/// heartbeat every 10 s).
const SILENCE_LIMIT: Duration = Duration::from_secs(30);
/// How long connecting and getting the response headers may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const BACKOFF_MIN: Duration = Duration::from_millis(250);
const BACKOFF_MAX: Duration = Duration::from_secs(10);

/// Where the route stream comes from and where snapshots go.
pub struct RouteFollower {
    /// Base URL of the control plane.
    pub control_plane: String,
    pub token: String,
    /// The persisted snapshot (`<state dir>/routes.json`).
    pub state_file: PathBuf,
    /// The wire snapshots (with agent addresses, for autostart).
    pub snapshots: watch::Sender<Arc<RouteSnapshot>>,
    /// The proxy's route tables.
    pub tables: watch::Sender<Arc<RouteTable>>,
}

/// Why one connection of the stream ended.
enum StreamEnd {
    /// Retry soon; `progress` says whether anything arrived first.
    Retry { reason: String, progress: bool },
}

impl RouteFollower {
    /// Follows the stream forever.
    pub async fn run(self) {
        let http = match reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .build()
        {
            Ok(http) => http,
            Err(err) => {
                tracing::error!(%err, "cannot build the HTTP client; routes will not update");
                return;
            }
        };
        let mut backoff = BACKOFF_MIN;
        let mut unreachable_logged = false;
        loop {
            let StreamEnd::Retry { reason, progress } = self.follow_once(&http).await;
            if progress {
                backoff = BACKOFF_MIN;
                unreachable_logged = false;
            }
            if unreachable_logged {
                tracing::debug!(%reason, "route stream: still no control plane");
            } else {
                tracing::warn!(
                    control_plane = %self.control_plane,
                    %reason,
                    generation = self.snapshots.borrow().generation,
                    "route stream lost; serving from the last snapshot and retrying with backoff"
                );
                unreachable_logged = true;
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(BACKOFF_MAX);
        }
    }

    async fn follow_once(&self, http: &reqwest::Client) -> StreamEnd {
        let since = self.snapshots.borrow().generation;
        let url = format!(
            "{}/v1/internal/routes?watch=true&since={since}",
            self.control_plane.trim_end_matches('/')
        );
        let request = http.get(&url).bearer_auth(&self.token).send();
        let response = match tokio::time::timeout(CONNECT_TIMEOUT, request).await {
            Err(_) => return retry("the control plane did not answer in time", false),
            Ok(Err(err)) => return retry(format!("cannot reach {url}: {err}"), false),
            Ok(Ok(r)) => r,
        };
        if !response.status().is_success() {
            let status = response.status();
            let body = response.text().await.unwrap_or_default();
            let hint = if status == reqwest::StatusCode::UNAUTHORIZED {
                " (check --token / HANGAR_API_TOKEN)"
            } else {
                ""
            };
            return retry(format!("{url} answered {status}{hint}: {body}"), false);
        }
        tracing::info!(control_plane = %self.control_plane, "route stream connected");
        let mut body = response.bytes_stream();
        let mut buffer: Vec<u8> = Vec::new();
        let mut progress = false;
        loop {
            let chunk = match tokio::time::timeout(SILENCE_LIMIT, body.next()).await {
                Err(_) => return retry("the stream went silent", progress),
                Ok(None) => return retry("the control plane closed the stream", progress),
                Ok(Some(Err(err))) => return retry(format!("stream broken: {err}"), progress),
                Ok(Some(Ok(chunk))) => chunk,
            };
            buffer.extend_from_slice(&chunk);
            while let Some(end) = buffer.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = buffer.drain(..=end).collect();
                progress = true;
                match serde_json::from_slice::<RouteStreamEvent>(&line) {
                    Ok(RouteStreamEvent::Snapshot(snapshot)) => self.offer(snapshot),
                    Ok(RouteStreamEvent::Heartbeat { .. }) => {}
                    Err(err) => {
                        return retry(
                            format!("unreadable line in the route stream: {err}"),
                            progress,
                        )
                    }
                }
            }
        }
    }

    /// Persists and publishes a snapshot unless it is older than the one held.
    pub fn offer(&self, snapshot: RouteSnapshot) {
        let held = self.snapshots.borrow().clone();
        if !route_state::accepts(Some(&held), &snapshot) {
            tracing::debug!(
                held = held.generation,
                pushed = snapshot.generation,
                "ignoring an older route snapshot"
            );
            return;
        }
        if let Err(err) = route_state::persist(&self.state_file, &snapshot) {
            tracing::warn!(%err, "cannot persist the route snapshot; serving it anyway");
        }
        tracing::debug!(
            generation = snapshot.generation,
            machines = snapshot.machines.len(),
            "route snapshot accepted"
        );
        self.tables
            .send_replace(Arc::new(route_state::route_table(&snapshot)));
        self.snapshots.send_replace(Arc::new(snapshot));
    }
}

fn retry(reason: impl Into<String>, progress: bool) -> StreamEnd {
    StreamEnd::Retry {
        reason: reason.into(),
        progress,
    }
}
