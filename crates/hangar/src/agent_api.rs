//! The agent's own small HTTP endpoint, so that a proxy running apart from
//! `hangar dev` starts and stops Machines on their host directly, without
//! the control plane:
//!
//! `POST /agent/v1/apps/{app}/machines/{id}/{start|stop|suspend}` with
//! `Authorization: Bearer <platform token>`; `start` answers once the
//! Machine is started. 200 `{"ok":true}`, else `{"error": "..."}`.

use std::sync::Arc;

use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use hangar_agent::Agent;
use hangar_proxy::MachineControl;

use crate::edge::AgentControl;

/// The path of a Machine action, as clients build it.
pub fn action_path(app: &str, machine_id: &str, action: &str) -> String {
    format!("/agent/v1/apps/{app}/machines/{machine_id}/{action}")
}

struct AgentApi {
    control: Arc<AgentControl>,
    token: String,
}

/// The endpoint's router.
pub fn router(agent: Arc<Agent>, token: String) -> Router {
    let api = Arc::new(AgentApi {
        control: AgentControl::new(agent),
        token,
    });
    Router::new()
        .route(
            "/agent/v1/apps/{app}/machines/{id}/{action}",
            post(machine_action),
        )
        .layer(middleware::from_fn_with_state(api.clone(), require_token))
        .with_state(api)
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(serde_json::json!({ "error": message.into() }))).into_response()
}

async fn require_token(State(api): State<Arc<AgentApi>>, req: Request, next: Next) -> Response {
    let presented = req
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    match presented {
        Some(token) if token == api.token => next.run(req).await,
        _ => error(
            StatusCode::UNAUTHORIZED,
            "missing or wrong token: send `Authorization: Bearer <platform token>`",
        ),
    }
}

async fn machine_action(
    State(api): State<Arc<AgentApi>>,
    Path((app, id, action)): Path<(String, String, String)>,
) -> Response {
    let result = match action.as_str() {
        "start" => api.control.start(&app, &id).await,
        "stop" => api.control.stop(&app, &id).await,
        "suspend" => api.control.suspend(&app, &id).await,
        other => {
            return error(
                StatusCode::NOT_FOUND,
                format!("no action {other:?}: use start, stop or suspend"),
            )
        }
    };
    match result {
        Ok(()) => Json(serde_json::json!({ "ok": true })).into_response(),
        Err(message) => error(StatusCode::CONFLICT, message),
    }
}
