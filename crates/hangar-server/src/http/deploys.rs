//! `/v1/apps/{app}/deploys`: server-side deploys (a Hangar extension).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::Response;
use axum::Json;
use futures_util::StreamExt;
use hangar_types::{CreateDeployRequest, Deployment};
use serde::Deserialize;

use crate::http::error::HttpResult;
use crate::http::extract::{ApiJson, ApiQuery};
use crate::platform::deploy::DeployInput;
use crate::platform::ControlPlane;

/// Start a deploy of an image with a fly.toml. Answers once it is queued;
/// follow it with the events endpoint. A bad fly.toml is a 400 listing
/// every problem (file:line, what, help) and nothing is created.
#[utoipa::path(post, path = "/v1/apps/{app_name}/deploys", tag = "Deploys", operation_id = "Deploys_create",
    params(("app_name" = String, Path, description = "App name")),
    request_body = CreateDeployRequest,
    responses((status = 201, body = Deployment), (status = 400, body = hangar_types::ApiError), (status = 404, body = hangar_types::ApiError)))]
pub async fn create_deploy(
    State(cp): State<Arc<ControlPlane>>,
    Path(app_name): Path<String>,
    ApiJson(req): ApiJson<CreateDeployRequest>,
) -> HttpResult<(StatusCode, Json<Deployment>)> {
    let description = if req.restart_only {
        "Restart".to_string()
    } else {
        format!("Deploy image {}", req.image)
    };
    let deployment = cp
        .create_deploy(
            &app_name,
            DeployInput {
                request: req,
                description,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(deployment)))
}

/// The app's deploys, newest first.
#[utoipa::path(get, path = "/v1/apps/{app_name}/deploys", tag = "Deploys", operation_id = "Deploys_list",
    params(("app_name" = String, Path, description = "App name")),
    responses((status = 200, body = Vec<Deployment>), (status = 404, body = hangar_types::ApiError)))]
pub async fn list_deploys(
    State(cp): State<Arc<ControlPlane>>,
    Path(app_name): Path<String>,
) -> HttpResult<Json<Vec<Deployment>>> {
    Ok(Json(cp.deploys(&app_name).await?))
}

/// One deploy.
#[utoipa::path(get, path = "/v1/apps/{app_name}/deploys/{deploy_id}", tag = "Deploys", operation_id = "Deploys_show",
    params(("app_name" = String, Path, description = "App name"), ("deploy_id" = String, Path, description = "Deploy id")),
    responses((status = 200, body = Deployment), (status = 404, body = hangar_types::ApiError)))]
pub async fn get_deploy(
    State(cp): State<Arc<ControlPlane>>,
    Path((app_name, deploy_id)): Path<(String, String)>,
) -> HttpResult<Json<Deployment>> {
    Ok(Json(cp.deploy(&app_name, &deploy_id).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct EventsQuery {
    /// Only events with a higher `seq` (to re-attach after a disconnect).
    pub after: Option<u64>,
    /// Keep the answer open until the deploy ends.
    pub follow: Option<bool>,
}

/// The deploy's events as newline-delimited JSON (`DeployEvent` per line);
/// the last one of a finished deploy has phase `done`.
#[utoipa::path(get, path = "/v1/apps/{app_name}/deploys/{deploy_id}/events", tag = "Deploys", operation_id = "Deploys_events",
    params(("app_name" = String, Path, description = "App name"), ("deploy_id" = String, Path, description = "Deploy id"), EventsQuery),
    responses((status = 200, description = "application/x-ndjson: one DeployEvent per line"), (status = 404, body = hangar_types::ApiError)))]
pub async fn deploy_events(
    State(cp): State<Arc<ControlPlane>>,
    Path((app_name, deploy_id)): Path<(String, String)>,
    ApiQuery(q): ApiQuery<EventsQuery>,
) -> HttpResult<Response> {
    let events = cp
        .deploy_events(
            &app_name,
            &deploy_id,
            q.after.unwrap_or(0),
            q.follow.unwrap_or(false),
        )
        .await?;
    let body = Body::from_stream(events.map(|event| {
        let mut bytes = serde_json::to_vec(&event).unwrap_or_default();
        bytes.push(b'\n');
        Ok::<_, std::io::Error>(bytes::Bytes::from(bytes))
    }));
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/x-ndjson")
        .body(body)
        .unwrap_or_default())
}
