//! Delivering one HTTP request: acquire a Machine, send, follow
//! `fly-replay` answers (with their `timeout` and `fallback`), retry on
//! connection failures.

use std::sync::Arc;
use std::time::Instant;

use hangar_types::HttpResponseOptions;
use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use hyper::http::request::Parts;
use hyper::upgrade::OnUpgrade;
use hyper::Response;

use crate::acquire::{self, Acquirer};
use crate::body::RequestBody;
use crate::error::ProxyErrorCode;
use crate::forward::ProxyBody;
use crate::headers;
use crate::placement::Placement;
use crate::proxy::{Proxy, SendError};
use crate::replay::{self, Replay};
use crate::replay_cache;
use crate::response_options;
use crate::routes::RouteTable;

/// Where a request is going.
pub(crate) struct Destination<'a> {
    /// The app its Host names.
    pub(crate) app: &'a str,
    /// Its Host, lowercase and without port (replay cache key).
    pub(crate) host: &'a str,
    pub(crate) public_port: u16,
    pub(crate) response_options: Option<HttpResponseOptions>,
}

/// The client's replay cache directive, and the proxy's report of it.
const CACHE_CONTROL: HeaderName = HeaderName::from_static("fly-replay-cache-control");
const CACHE_STATUS: HeaderName = HeaderName::from_static("fly-replay-cache-status");

/// How the replay cache took part in a request (`fly-replay-cache-status`).
enum CacheUse {
    /// Sent straight to a cached replay target.
    Hit(Replay),
    /// Replayed by the Machine, which asked for the result to be cached.
    Miss,
    /// The client skipped an entry that allows it.
    Bypass,
}

impl CacheUse {
    fn header(&self) -> &'static str {
        match self {
            CacheUse::Hit(_) => "hit",
            CacheUse::Miss => "miss",
            CacheUse::Bypass => "bypass",
        }
    }
}

/// A Machine's answer to a request's first attempt, obtained elsewhere (the
/// lean HTTP/1.1 path hands over a `fly-replay` answer this way).
pub(crate) struct FirstAnswer {
    pub(crate) response: Response<ProxyBody>,
    pub(crate) machine_id: String,
    /// The snapshot the Machine was chosen from.
    pub(crate) table: Arc<RouteTable>,
}

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
        destination: Destination<'_>,
        mut parts: Parts,
        mut body: RequestBody,
        mut client_upgrade: Option<OnUpgrade>,
        mut first: Option<FirstAnswer>,
    ) -> Result<(Response<ProxyBody>, String), ProxyErrorCode> {
        let Destination {
            app,
            host,
            public_port,
            response_options,
        } = destination;
        let mut placement = Placement::from_headers(&parts.headers);
        let mut replays = 0;
        let mut acquirer = Acquirer::new(self, public_port, acquire::HTTP);
        // The app serving the request; a replay may change it.
        let mut target_app = app.to_string();
        let mut pending: Option<PendingReplay> = None;
        let mut fell_back = false;
        let path = parts.uri.path().to_string();
        let mut cache_status = self.use_replay_cache(host, &path, &mut parts.headers);
        if let Some(CacheUse::Hit(target)) = &cache_status {
            placement = target.placement();
            if let Some(cached_app) = &target.app {
                target_app = cached_app.clone();
            }
        }
        loop {
            let app = target_app.as_str();
            let (machine_id, table, sent) = match first.take() {
                Some(first) => (first.machine_id, first.table, Ok(first.response)),
                None => {
                    let acquired = match pending.as_ref().and_then(PendingReplay::deadline) {
                        Some(deadline) => tokio::time::timeout_at(
                            deadline.into(),
                            acquirer.acquire(app, &placement),
                        )
                        .await
                        .unwrap_or_else(|_| Err(ProxyErrorCode::ReplayTimedOut(app.to_string()))),
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
                    let sent = self
                        .send(
                            &parts,
                            attempt_body,
                            target,
                            &mut client_upgrade,
                            // Asked only when a new connection is dialled.
                            || acquirer.connect_timeout(&machine_id),
                        )
                        .await;
                    (machine_id, table, sent)
                }
            };
            match sent {
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
                        parts.headers.insert(headers::FLY_REPLAY_SRC, source);
                    }
                    if let Some(rule) = &request.cache {
                        if self.replay_cache.insert(host, rule, &request) && cache_status.is_none()
                        {
                            cache_status = Some(CacheUse::Miss);
                        }
                    }
                    if let Some(status) = &cache_status {
                        parts
                            .headers
                            .insert(CACHE_STATUS, HeaderValue::from_static(status.header()));
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
                    if replay_cache::asks_invalidate(response.headers()) {
                        self.replay_cache.invalidate(host, &path);
                        response.headers_mut().remove("fly-replay-cache");
                    }
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

impl Proxy {
    /// Looks `host` and `path` up in the replay cache; a hit is marked on
    /// the request. Strips the client's cache headers.
    fn use_replay_cache(
        &self,
        host: &str,
        path: &str,
        headers: &mut HeaderMap,
    ) -> Option<CacheUse> {
        let skip = headers
            .get(&CACHE_CONTROL)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("skip"));
        headers.remove(&CACHE_CONTROL);
        headers.remove(&CACHE_STATUS);
        let hit = self.replay_cache.lookup(host, path)?;
        if skip && hit.allow_bypass {
            return Some(CacheUse::Bypass);
        }
        let table = self.routes.borrow().clone();
        if hit
            .target
            .app
            .as_deref()
            .is_some_and(|app| !table.has_app(app))
        {
            return None;
        }
        headers.insert(CACHE_STATUS, HeaderValue::from_static("hit"));
        Some(CacheUse::Hit(hit.target))
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
        parts.headers.remove(headers::FLY_REPLAY_SRC);
        if let Some(value) = self
            .replay
            .failed_header(&self.origin_machine, reason, elapsed)
        {
            parts.headers.insert(headers::FLY_REPLAY_FAILED, value);
        }
        Some(fallback.placement(&self.origin_machine))
    }
}
