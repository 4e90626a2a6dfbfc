//! `GET /v1/internal/routes`: route state for edge proxies that run apart
//! from the control plane (not part of Fly's API, left out of the OpenAPI
//! document). Plain: the current [`RouteSnapshot`] as JSON. With
//! `?watch=true[&since=GEN]`: newline-delimited [`RouteStreamEvent`]s — the
//! current snapshot if newer than `since`, then every newer one as the store
//! changes, with heartbeats in between.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

use crate::http::error::HttpResult;
use crate::http::extract::ApiQuery;
use crate::platform::routes::{RouteSnapshot, RouteStreamEvent};
use crate::platform::ControlPlane;

/// How often a watch stream says it is alive when nothing changes.
pub const HEARTBEAT_EVERY: Duration = Duration::from_secs(10);

#[derive(Debug, Deserialize)]
pub struct RoutesQuery {
    /// Keep the answer open and stream newer snapshots.
    pub watch: Option<bool>,
    /// The generation the caller holds: only newer snapshots are sent.
    pub since: Option<i64>,
}

fn line(event: &RouteStreamEvent) -> Result<bytes::Bytes, std::io::Error> {
    let mut bytes = serde_json::to_vec(event).map_err(std::io::Error::other)?;
    bytes.push(b'\n');
    Ok(bytes::Bytes::from(bytes))
}

/// The route snapshot, or a stream of them.
pub async fn routes(
    State(cp): State<Arc<ControlPlane>>,
    ApiQuery(q): ApiQuery<RoutesQuery>,
) -> HttpResult<Response> {
    let feed = cp.route_feed().await;
    if !q.watch.unwrap_or(false) {
        let snapshot: RouteSnapshot = (**feed.borrow()).clone();
        return Ok(Json(snapshot).into_response());
    }
    let since = q.since.unwrap_or(i64::MIN);
    let stream =
        futures_util::stream::unfold((feed, since, true), |(mut feed, sent, first)| async move {
            loop {
                if !first {
                    let changed = tokio::time::timeout(HEARTBEAT_EVERY, feed.changed()).await;
                    match changed {
                        Ok(Err(_)) => return None,
                        Err(_) => {
                            let beat = RouteStreamEvent::Heartbeat { generation: sent };
                            return Some((line(&beat), (feed, sent, false)));
                        }
                        Ok(Ok(())) => {}
                    }
                }
                let snapshot = feed.borrow_and_update().clone();
                if snapshot.generation > sent {
                    let generation = snapshot.generation;
                    let event = RouteStreamEvent::Snapshot((*snapshot).clone());
                    return Some((line(&event), (feed, generation, false)));
                }
                if first {
                    let beat = RouteStreamEvent::Heartbeat { generation: sent };
                    return Some((line(&beat), (feed, sent, false)));
                }
            }
        });
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/x-ndjson")
        .body(Body::from_stream(stream))
        .unwrap_or_default())
}
