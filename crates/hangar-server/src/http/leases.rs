//! `/v1/apps/{app}/machines/{id}/lease`.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::Json;
use hangar_types::{CreateLeaseRequest, LeaseEnvelope, OkResponse};
use serde::Deserialize;

use crate::http::error::{HttpError, HttpResult};
use crate::http::extract::{ApiQuery, LeaseNonce, OptionalJson};
use crate::platform::ControlPlane;

/// The current lease; 404 when there is none.
#[utoipa::path(get, path = "/v1/apps/{app_name}/machines/{machine_id}/lease", tag = "Machines", operation_id = "Machines_show_lease",
    params(("app_name" = String, Path, description = "App name"), ("machine_id" = String, Path, description = "Machine id")),
    responses((status = 200, body = LeaseEnvelope), (status = 404, body = hangar_types::ApiError)))]
pub async fn get_lease(
    State(cp): State<Arc<ControlPlane>>,
    Path((app, id)): Path<(String, String)>,
) -> HttpResult<Json<LeaseEnvelope>> {
    cp.machine_record(&app, &id).await?;
    let lease = cp
        .lease(&app, &id)
        .await?
        .ok_or_else(|| HttpError::not_found(format!("machine {id} has no active lease")))?;
    Ok(Json(LeaseEnvelope::success(lease)))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct LeaseQuery {
    /// Seconds (flyctl passes it here rather than in the body).
    pub ttl: Option<i64>,
}

/// Acquire a lease, or refresh it with the holder's nonce; 409 when another holds it.
#[utoipa::path(post, path = "/v1/apps/{app_name}/machines/{machine_id}/lease", tag = "Machines", operation_id = "Machines_create_lease",
    params(("app_name" = String, Path, description = "App name"), ("machine_id" = String, Path, description = "Machine id"), LeaseQuery),
    request_body(content = Option<CreateLeaseRequest>),
    responses((status = 200, body = LeaseEnvelope), (status = 400, body = hangar_types::ApiError), (status = 409, body = hangar_types::ApiError)))]
pub async fn create_lease(
    State(cp): State<Arc<ControlPlane>>,
    Path((app, id)): Path<(String, String)>,
    LeaseNonce(nonce): LeaseNonce,
    ApiQuery(q): ApiQuery<LeaseQuery>,
    OptionalJson(body): OptionalJson<CreateLeaseRequest>,
) -> HttpResult<Json<LeaseEnvelope>> {
    let record = cp.machine_record(&app, &id).await?;
    let lease = cp
        .acquire_lease(
            &app,
            &id,
            body.ttl.or(q.ttl),
            body.description,
            nonce,
            record.instance_id,
        )
        .await?;
    Ok(Json(LeaseEnvelope::success(lease)))
}

/// Release a lease; needs its nonce.
#[utoipa::path(delete, path = "/v1/apps/{app_name}/machines/{machine_id}/lease", tag = "Machines", operation_id = "Machines_release_lease",
    params(("app_name" = String, Path, description = "App name"), ("machine_id" = String, Path, description = "Machine id")),
    responses((status = 200, body = OkResponse), (status = 400, body = hangar_types::ApiError), (status = 404, body = hangar_types::ApiError), (status = 409, body = hangar_types::ApiError)))]
pub async fn release_lease(
    State(cp): State<Arc<ControlPlane>>,
    Path((app, id)): Path<(String, String)>,
    LeaseNonce(nonce): LeaseNonce,
) -> HttpResult<Json<OkResponse>> {
    cp.machine_record(&app, &id).await?;
    cp.release_lease(&app, &id, nonce).await?;
    Ok(Json(OkResponse::ok()))
}
