//! `/v1/apps/{app_name}/certificates`: custom domains of an app (Fly's
//! certificates API, ACME form).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;

use crate::http::error::HttpResult;
use crate::http::extract::ApiJson;
use crate::platform::certificate_reports::ProxyCertificateReport;
use crate::platform::certificates::{AddCertificateRequest, Certificate};
use crate::platform::ControlPlane;

/// Add a custom hostname to the app; a certificate is requested by ACME.
#[utoipa::path(post, path = "/v1/apps/{app_name}/certificates/acme", tag = "Certificates", operation_id = "Certificates_request_acme",
    params(("app_name" = String, Path, description = "App name")),
    request_body = AddCertificateRequest,
    responses((status = 201, body = Certificate), (status = 200, body = Certificate, description = "The app already has this hostname"),
        (status = 404, body = hangar_types::ApiError), (status = 409, body = hangar_types::ApiError), (status = 422, body = hangar_types::ApiError)))]
pub async fn request_acme(
    State(cp): State<Arc<ControlPlane>>,
    Path(app_name): Path<String>,
    ApiJson(req): ApiJson<AddCertificateRequest>,
) -> HttpResult<(StatusCode, Json<Certificate>)> {
    let (created, certificate) = cp.add_certificate(&app_name, &req.hostname).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(certificate)))
}

/// The app's custom hostnames and their certificate status.
#[utoipa::path(get, path = "/v1/apps/{app_name}/certificates", tag = "Certificates", operation_id = "Certificates_list",
    params(("app_name" = String, Path, description = "App name")),
    responses((status = 200, body = Vec<Certificate>), (status = 404, body = hangar_types::ApiError)))]
pub async fn list(
    State(cp): State<Arc<ControlPlane>>,
    Path(app_name): Path<String>,
) -> HttpResult<Json<Vec<Certificate>>> {
    Ok(Json(cp.list_certificates(&app_name).await?))
}

/// One custom hostname of the app.
#[utoipa::path(get, path = "/v1/apps/{app_name}/certificates/{hostname}", tag = "Certificates", operation_id = "Certificates_show",
    params(("app_name" = String, Path, description = "App name"), ("hostname" = String, Path, description = "Hostname (a wildcard's `*` URL-encoded)")),
    responses((status = 200, body = Certificate), (status = 404, body = hangar_types::ApiError)))]
pub async fn show(
    State(cp): State<Arc<ControlPlane>>,
    Path((app_name, hostname)): Path<(String, String)>,
) -> HttpResult<Json<Certificate>> {
    Ok(Json(cp.certificate(&app_name, &hostname).await?))
}

/// Remove a custom hostname from the app; proxies stop routing it.
#[utoipa::path(delete, path = "/v1/apps/{app_name}/certificates/{hostname}", tag = "Certificates", operation_id = "Certificates_delete",
    params(("app_name" = String, Path, description = "App name"), ("hostname" = String, Path, description = "Hostname (a wildcard's `*` URL-encoded)")),
    responses((status = 200, body = Certificate), (status = 404, body = hangar_types::ApiError)))]
pub async fn delete(
    State(cp): State<Arc<ControlPlane>>,
    Path((app_name, hostname)): Path<(String, String)>,
) -> HttpResult<Json<Certificate>> {
    Ok(Json(cp.delete_certificate(&app_name, &hostname).await?))
}

/// `PUT /v1/internal/proxies/{proxy_id}/certificates`: a proxy running apart
/// from the control plane reports how its certificates stand (not part of
/// Fly's API, left out of the OpenAPI document).
pub async fn report(
    State(cp): State<Arc<ControlPlane>>,
    Path(proxy_id): Path<String>,
    ApiJson(report): ApiJson<ProxyCertificateReport>,
) -> HttpResult<StatusCode> {
    cp.report_certificate_statuses(&proxy_id, report).await?;
    Ok(StatusCode::NO_CONTENT)
}
