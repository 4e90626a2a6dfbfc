//! `/v1/apps/{app}/secrets` (a Hangar extension): values go in, never out.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::Json;
use hangar_types::{SecretInfo, SecretsChanged, SetSecretsRequest, UnsetSecretsRequest};

use crate::http::error::HttpResult;
use crate::http::extract::ApiJson;
use crate::platform::ControlPlane;

/// The app's secrets: name, digest and time; never values.
#[utoipa::path(get, path = "/v1/apps/{app_name}/secrets", tag = "Secrets", operation_id = "Secrets_list",
    params(("app_name" = String, Path, description = "App name")),
    responses((status = 200, body = Vec<SecretInfo>), (status = 404, body = hangar_types::ApiError)))]
pub async fn list_secrets(
    State(cp): State<Arc<ControlPlane>>,
    Path(app_name): Path<String>,
) -> HttpResult<Json<Vec<SecretInfo>>> {
    Ok(Json(cp.list_secrets(&app_name).await?))
}

/// Set secrets; unless `stage`, a restart-only deploy applies them.
#[utoipa::path(post, path = "/v1/apps/{app_name}/secrets", tag = "Secrets", operation_id = "Secrets_set",
    params(("app_name" = String, Path, description = "App name")),
    request_body = SetSecretsRequest,
    responses((status = 200, body = SecretsChanged), (status = 400, body = hangar_types::ApiError), (status = 404, body = hangar_types::ApiError)))]
pub async fn set_secrets(
    State(cp): State<Arc<ControlPlane>>,
    Path(app_name): Path<String>,
    ApiJson(req): ApiJson<SetSecretsRequest>,
) -> HttpResult<Json<SecretsChanged>> {
    Ok(Json(
        cp.set_secrets(&app_name, &req.values, req.stage).await?,
    ))
}

/// Remove secrets; unless `stage`, a restart-only deploy applies the change.
#[utoipa::path(delete, path = "/v1/apps/{app_name}/secrets", tag = "Secrets", operation_id = "Secrets_unset",
    params(("app_name" = String, Path, description = "App name")),
    request_body = UnsetSecretsRequest,
    responses((status = 200, body = SecretsChanged), (status = 400, body = hangar_types::ApiError), (status = 404, body = hangar_types::ApiError)))]
pub async fn unset_secrets(
    State(cp): State<Arc<ControlPlane>>,
    Path(app_name): Path<String>,
    ApiJson(req): ApiJson<UnsetSecretsRequest>,
) -> HttpResult<Json<SecretsChanged>> {
    Ok(Json(
        cp.unset_secrets(&app_name, &req.names, req.stage).await?,
    ))
}
