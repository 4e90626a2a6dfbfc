//! `/v1/apps/{app}/volumes`.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::Json;
use hangar_types::{
    CreateVolumeRequest, ExtendVolumeRequest, ExtendVolumeResponse, UpdateVolumeRequest, Volume,
    VolumeSnapshot,
};

use crate::http::error::HttpResult;
use crate::http::extract::{ApiJson, OptionalJson};
use crate::platform::ControlPlane;

/// List the app's volumes (destroyed ones hidden).
#[utoipa::path(get, path = "/v1/apps/{app_name}/volumes", tag = "Volumes", operation_id = "Volumes_list",
    params(("app_name" = String, Path, description = "App name")),
    responses((status = 200, body = [Volume]), (status = 404, body = hangar_types::ApiError)))]
pub async fn list_volumes(
    State(cp): State<Arc<ControlPlane>>,
    Path(app): Path<String>,
) -> HttpResult<Json<Vec<Volume>>> {
    cp.app(&app).await?;
    Ok(Json(cp.list_volumes(&app, false).await?))
}

/// Create a volume (or restore one from `snapshot_id`, or fork `source_volume_id`).
#[utoipa::path(post, path = "/v1/apps/{app_name}/volumes", tag = "Volumes", operation_id = "Volumes_create",
    params(("app_name" = String, Path, description = "App name")),
    request_body = CreateVolumeRequest,
    responses((status = 200, body = Volume), (status = 400, body = hangar_types::ApiError), (status = 404, body = hangar_types::ApiError)))]
pub async fn create_volume(
    State(cp): State<Arc<ControlPlane>>,
    Path(app): Path<String>,
    ApiJson(req): ApiJson<CreateVolumeRequest>,
) -> HttpResult<Json<Volume>> {
    Ok(Json(cp.create_volume(&app, req).await?))
}

/// Get a volume.
#[utoipa::path(get, path = "/v1/apps/{app_name}/volumes/{volume_id}", tag = "Volumes", operation_id = "Volumes_get_by_id",
    params(("app_name" = String, Path, description = "App name"), ("volume_id" = String, Path, description = "Volume id")),
    responses((status = 200, body = Volume), (status = 404, body = hangar_types::ApiError)))]
pub async fn get_volume(
    State(cp): State<Arc<ControlPlane>>,
    Path((app, id)): Path<(String, String)>,
) -> HttpResult<Json<Volume>> {
    Ok(Json(cp.volume(&app, &id).await?.0))
}

/// Update a volume's snapshot settings (PUT, or POST as in the spec).
#[utoipa::path(put, path = "/v1/apps/{app_name}/volumes/{volume_id}", tag = "Volumes", operation_id = "Volumes_update",
    params(("app_name" = String, Path, description = "App name"), ("volume_id" = String, Path, description = "Volume id")),
    request_body = UpdateVolumeRequest,
    responses((status = 200, body = Volume), (status = 400, body = hangar_types::ApiError), (status = 404, body = hangar_types::ApiError)))]
pub async fn update_volume(
    State(cp): State<Arc<ControlPlane>>,
    Path((app, id)): Path<(String, String)>,
    OptionalJson(req): OptionalJson<UpdateVolumeRequest>,
) -> HttpResult<Json<Volume>> {
    Ok(Json(
        cp.update_volume(&app, &id, req.snapshot_retention, req.auto_backup_enabled)
            .await?,
    ))
}

/// Destroy a detached volume.
#[utoipa::path(delete, path = "/v1/apps/{app_name}/volumes/{volume_id}", tag = "Volumes", operation_id = "Volume_delete",
    params(("app_name" = String, Path, description = "App name"), ("volume_id" = String, Path, description = "Volume id")),
    responses((status = 200, body = Volume), (status = 404, body = hangar_types::ApiError), (status = 412, body = hangar_types::ApiError)))]
pub async fn delete_volume(
    State(cp): State<Arc<ControlPlane>>,
    Path((app, id)): Path<(String, String)>,
) -> HttpResult<Json<Volume>> {
    Ok(Json(cp.delete_volume(&app, &id).await?))
}

/// Grow a volume.
#[utoipa::path(put, path = "/v1/apps/{app_name}/volumes/{volume_id}/extend", tag = "Volumes", operation_id = "Volumes_extend",
    params(("app_name" = String, Path, description = "App name"), ("volume_id" = String, Path, description = "Volume id")),
    request_body = ExtendVolumeRequest,
    responses((status = 200, body = ExtendVolumeResponse), (status = 400, body = hangar_types::ApiError), (status = 404, body = hangar_types::ApiError)))]
pub async fn extend_volume(
    State(cp): State<Arc<ControlPlane>>,
    Path((app, id)): Path<(String, String)>,
    ApiJson(req): ApiJson<ExtendVolumeRequest>,
) -> HttpResult<Json<ExtendVolumeResponse>> {
    let (volume, needs_restart) = cp.extend_volume(&app, &id, req.size_gb).await?;
    Ok(Json(ExtendVolumeResponse {
        volume,
        needs_restart,
    }))
}

/// The volume's snapshots.
#[utoipa::path(get, path = "/v1/apps/{app_name}/volumes/{volume_id}/snapshots", tag = "Volumes", operation_id = "Volumes_list_snapshots",
    params(("app_name" = String, Path, description = "App name"), ("volume_id" = String, Path, description = "Volume id")),
    responses((status = 200, body = [VolumeSnapshot]), (status = 404, body = hangar_types::ApiError)))]
pub async fn list_snapshots(
    State(cp): State<Arc<ControlPlane>>,
    Path((app, id)): Path<(String, String)>,
) -> HttpResult<Json<Vec<VolumeSnapshot>>> {
    Ok(Json(cp.snapshots(&app, &id).await?))
}

/// Take a snapshot now.
#[utoipa::path(post, path = "/v1/apps/{app_name}/volumes/{volume_id}/snapshots", tag = "Volumes", operation_id = "createVolumeSnapshot",
    params(("app_name" = String, Path, description = "App name"), ("volume_id" = String, Path, description = "Volume id")),
    responses((status = 200, body = VolumeSnapshot), (status = 404, body = hangar_types::ApiError)))]
pub async fn create_snapshot(
    State(cp): State<Arc<ControlPlane>>,
    Path((app, id)): Path<(String, String)>,
) -> HttpResult<Json<VolumeSnapshot>> {
    Ok(Json(cp.create_snapshot(&app, &id).await?))
}
