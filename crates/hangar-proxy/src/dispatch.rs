//! Delivering one HTTP request: acquire a Machine, send, follow
//! `fly-replay` answers (with their `timeout` and `fallback`), retry on
//! connection failures.

use std::sync::Arc;
use std::time::Instant;

use hangar_types::HttpResponseOptions;
use hyper::header::HeaderValue;
use hyper::http::request::Parts;
use hyper::upgrade::OnUpgrade;
use hyper::Response;

use crate::acquire::{self, Acquirer};
use crate::body::RequestBody;
use crate::error::ProxyErrorCode;
use crate::forward::ProxyBody;
use crate::placement::Placement;
use crate::proxy::{Proxy, SendError};
use crate::replay::{self, Replay};
use crate::response_options;

/// A replay in progress: where it came from, for `fly-replay-failed` and
/// the fallback to the replaying Machine.
struct PendingReplay {
    replay: Replay,
    origin_machine: String,
    origin_app: String,
    began: Instant,
}

impl Proxy {
    /// Sends the request to a Machine of `app` and follows replays; returns
    /// the response and the Machine that gave it.
    pub(crate) async fn dispatch(
        self: &Arc<Self>,
        app: &str,
        mut parts: Parts,
        mut body: RequestBody,
        mut client_upgrade: Option<OnUpgrade>,
        response_options: Option<HttpResponseOptions>,
        public_port: u16,
    ) -> Result<(Response<ProxyBody>, String), ProxyErrorCode> {
        let mut placement = Placement::from_headers(&parts.headers);
        let mut replays = 0;
        let mut acquirer = Acquirer::new(self, public_port, acquire::HTTP);
        // The app serving the request; a replay may change it.
        let mut target_app = app.to_string();
        let mut pending: Option<PendingReplay> = None;
        let mut fell_back = false;
        loop {
            let app = target_app.as_str();
            let acquired = match pending.as_ref().and_then(PendingReplay::deadline) {
                Some(deadline) => {
                    tokio::time::timeout_at(deadline.into(), acquirer.acquire(app, &placement))
                        .await
                        .unwrap_or_else(|_| Err(ProxyErrorCode::ReplayTimedOut(app.to_string())))
                }
                None => acquirer.acquire(app, &placement).await,
            };
            let (target, table) = match acquired {
                Ok(acquired) => acquired,
                Err(error) => {
                    let origin = pending.take().ok_or_else(|| error.clone())?;
                    let fallback = origin.fall_back(&error, &mut parts).ok_or(error)?;
                    placement = fallback;
                    target_app = origin.origin_app;
                    acquirer = Acquirer::new(self, public_port, acquire::HTTP);
                    fell_back = true;
                    continue;
                }
            };
            let Some(attempt_body) = body.for_attempt() else {
                // A streamed body went to a Machine that refused the
                // connection; it cannot be sent again.
                return Err(ProxyErrorCode::RetriesExhausted(app.to_string()));
            };
            let machine_id = target.machine_id.clone();
            if let Some(preferred) = &placement.prefer_instance {
                if preferred != &machine_id {
                    if let Ok(value) = HeaderValue::from_str(preferred) {
                        parts
                            .headers
                            .insert("fly-preferred-instance-unavailable", value);
                    }
                }
            }
            match self
                .send(&parts, attempt_body, target, &mut client_upgrade)
                .await
            {
                Ok(response) if replay::is_replay(&response) => {
                    if fell_back {
                        return Err(ProxyErrorCode::ReplayAfterFallback(machine_id));
                    }
                    let request = replay::read(response)
                        .await
                        .map_err(ProxyErrorCode::ReplayInvalid)?;
                    replays += 1;
                    if replays > replay::MAX_REPLAYS {
                        return Err(ProxyErrorCode::ReplayChainTooLong(replay::MAX_REPLAYS));
                    }
                    let next_app = match request.app.as_deref() {
                        Some(other) if other != app => {
                            if !table.has_app(other) {
                                return Err(ProxyErrorCode::ReplayUnknownApp(other.to_string()));
                            }
                            Some(other.to_string())
                        }
                        _ => None,
                    };
                    if !body.is_buffered() {
                        return Err(ProxyErrorCode::ReplayUnsupported(
                            "replaying a request whose body was too large to buffer".to_string(),
                        ));
                    }
                    let region = table
                        .machines
                        .iter()
                        .find(|m| m.id == machine_id)
                        .map_or("", |m| m.region.as_str());
                    if let Some(source) = request.source_header(&machine_id, region) {
                        parts.headers.insert("fly-replay-src", source);
                    }
                    placement = request.placement();
                    if request.elsewhere {
                        acquirer.excluded.insert(machine_id.clone());
                    }
                    pending = Some(PendingReplay {
                        replay: request,
                        origin_machine: machine_id,
                        origin_app: app.to_string(),
                        began: Instant::now(),
                    });
                    if let Some(next_app) = next_app {
                        target_app = next_app;
                    }
                }
                Ok(mut response) => {
                    if let Some(options) = &response_options {
                        response_options::apply(options, &mut response);
                    }
                    return Ok((response, machine_id));
                }
                Err(SendError::Connect(reason)) => {
                    if let Err(error) = acquirer.connect_failed(app, machine_id, &reason).await {
                        let origin = pending.take().ok_or_else(|| error.clone())?;
                        placement = origin.fall_back(&error, &mut parts).ok_or(error)?;
                        target_app = origin.origin_app;
                        acquirer = Acquirer::new(self, public_port, acquire::HTTP);
                        fell_back = true;
                    }
                }
                Err(SendError::Upstream(reason)) => {
                    return Err(ProxyErrorCode::UpstreamFailed {
                        app: app.to_string(),
                        machine: machine_id,
                        reason,
                    })
                }
            }
        }
    }
}

impl PendingReplay {
    /// When the replay gives up waiting for a target (`timeout`).
    fn deadline(&self) -> Option<Instant> {
        self.replay.timeout.map(|t| self.began + t)
    }

    /// When the replay asked for a `fallback` and `error` is one it covers,
    /// marks the request with `fly-replay-failed` and returns where it goes
    /// back to: the replaying Machine.
    fn fall_back(&self, error: &ProxyErrorCode, parts: &mut Parts) -> Option<Placement> {
        let fallback = self.replay.fallback?;
        let reason = replay::failure_reason(error)?;
        let elapsed = self.began.elapsed();
        tracing::debug!(origin = %self.origin_machine, %reason, ?elapsed, "fly-replay fell back");
        parts.headers.remove("fly-replay-src");
        if let Some(value) = self
            .replay
            .failed_header(&self.origin_machine, reason, elapsed)
        {
            parts.headers.insert("fly-replay-failed", value);
        }
        Some(fallback.placement(&self.origin_machine))
    }
}
