//! `/v1/apps`.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use hangar_types::{App, CreateAppRequest, ListAppsResponse, MachineState};
use serde::Deserialize;

use crate::http::error::{HttpError, HttpResult};
use crate::http::extract::{ApiJson, ApiQuery};
use crate::platform::ControlPlane;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ListAppsQuery {
    /// The org slug, or `personal`.
    pub org_slug: Option<String>,
}

/// List apps.
#[utoipa::path(get, path = "/v1/apps", tag = "Apps", operation_id = "Apps_list",
    params(ListAppsQuery),
    responses((status = 200, body = ListAppsResponse), (status = 401, body = hangar_types::ApiError)))]
pub async fn list_apps(
    State(cp): State<Arc<ControlPlane>>,
    ApiQuery(q): ApiQuery<ListAppsQuery>,
) -> HttpResult<Json<ListAppsResponse>> {
    let apps = cp.list_apps(q.org_slug.as_deref()).await?;
    let mut out = Vec::new();
    for app in apps {
        let count = cp
            .agent
            .list(&app.name)
            .await
            .iter()
            .filter(|m| m.state != MachineState::Destroyed)
            .count() as i64;
        out.push(app.to_list_app(count));
    }
    Ok(Json(ListAppsResponse {
        total_apps: out.len() as i64,
        apps: out,
    }))
}

/// Create an app. Accepts `app_name` (spec) or `name` (flyctl).
#[utoipa::path(post, path = "/v1/apps", tag = "Apps", operation_id = "Apps_create",
    request_body = CreateAppRequest,
    responses((status = 201, body = App), (status = 400, body = hangar_types::ApiError), (status = 422, body = hangar_types::ApiError)))]
pub async fn create_app(
    State(cp): State<Arc<ControlPlane>>,
    ApiJson(req): ApiJson<CreateAppRequest>,
) -> HttpResult<(StatusCode, Json<App>)> {
    let name = req
        .app_name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| HttpError::bad_request("app_name is required"))?;
    let org = req
        .org_slug
        .as_deref()
        .filter(|o| !o.is_empty())
        .unwrap_or("personal");
    let app = cp.create_app(name, org, req.network.clone()).await?;
    Ok((StatusCode::CREATED, Json(app.to_app(false))))
}

/// Show an app.
#[utoipa::path(get, path = "/v1/apps/{app_name}", tag = "Apps", operation_id = "Apps_show",
    params(("app_name" = String, Path, description = "App name")),
    responses((status = 200, body = App), (status = 404, body = hangar_types::ApiError)))]
pub async fn get_app(
    State(cp): State<Arc<ControlPlane>>,
    Path(app_name): Path<String>,
) -> HttpResult<Json<App>> {
    let app = cp.app(&app_name).await?;
    let deployed = cp
        .agent
        .list(&app_name)
        .await
        .iter()
        .any(|m| m.state == MachineState::Started);
    Ok(Json(app.to_app(deployed)))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct DeleteAppQuery {
    /// Destroy the app's machines first.
    pub force: Option<bool>,
}

/// Delete an app (202). Its machines must be gone unless `force=true`.
#[utoipa::path(delete, path = "/v1/apps/{app_name}", tag = "Apps", operation_id = "Apps_delete",
    params(("app_name" = String, Path, description = "App name"), DeleteAppQuery),
    responses((status = 202), (status = 404, body = hangar_types::ApiError), (status = 412, body = hangar_types::ApiError)))]
pub async fn delete_app(
    State(cp): State<Arc<ControlPlane>>,
    Path(app_name): Path<String>,
    ApiQuery(q): ApiQuery<DeleteAppQuery>,
) -> HttpResult<StatusCode> {
    cp.delete_app(&app_name, q.force.unwrap_or(false)).await?;
    Ok(StatusCode::ACCEPTED)
}
