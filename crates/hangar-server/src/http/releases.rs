//! `/v1/apps/{app}/releases`: the release history and rollback (a Hangar extension).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use hangar_types::{Deployment, Release};

use crate::http::error::HttpResult;
use crate::platform::ControlPlane;

/// The app's releases, newest first.
#[utoipa::path(get, path = "/v1/apps/{app_name}/releases", tag = "Releases", operation_id = "Releases_list",
    params(("app_name" = String, Path, description = "App name")),
    responses((status = 200, body = Vec<Release>), (status = 404, body = hangar_types::ApiError)))]
pub async fn list_releases(
    State(cp): State<Arc<ControlPlane>>,
    Path(app_name): Path<String>,
) -> HttpResult<Json<Vec<Release>>> {
    cp.app(&app_name).await?;
    Ok(Json(
        cp.releases(&app_name)
            .await?
            .into_iter()
            .map(|r| Release {
                id: r.id,
                fly_toml: r.fly_toml,
                ..r.release
            })
            .collect(),
    ))
}

/// Deploy an earlier release's image and config again, as a new release.
#[utoipa::path(post, path = "/v1/apps/{app_name}/releases/{version}/rollback", tag = "Releases", operation_id = "Releases_rollback",
    params(("app_name" = String, Path, description = "App name"), ("version" = u64, Path, description = "Release version")),
    responses((status = 201, body = Deployment), (status = 404, body = hangar_types::ApiError)))]
pub async fn rollback(
    State(cp): State<Arc<ControlPlane>>,
    Path((app_name, version)): Path<(String, u64)>,
) -> HttpResult<(StatusCode, Json<Deployment>)> {
    let deployment = cp.rollback(&app_name, version, None).await?;
    Ok((StatusCode::CREATED, Json(deployment)))
}
