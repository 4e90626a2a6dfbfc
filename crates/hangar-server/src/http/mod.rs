//! The HTTP surface: the Machines API under `/v1`, authenticated with a
//! bearer token, every answer carrying `Fly-Request-Id`.

pub mod apps;
pub mod certificates;
pub mod console;
pub mod deploys;
pub mod error;
pub mod extract;
pub mod leases;
pub mod machine_actions;
pub mod machines;
pub mod releases;
pub mod routes;
pub mod secrets;
pub mod volumes;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::Router;

use crate::http::error::HttpError;
use crate::platform::ControlPlane;

/// The largest request body accepted.
pub const BODY_LIMIT: usize = 1024 * 1024;

/// The whole API.
pub fn router(cp: Arc<ControlPlane>) -> Router {
    let v1 = Router::new()
        .route("/apps", get(apps::list_apps).post(apps::create_app))
        .route(
            "/apps/{app_name}",
            get(apps::get_app).delete(apps::delete_app),
        )
        .route(
            "/apps/{app_name}/machines",
            get(machines::list_machines).post(machines::create_machine),
        )
        .route(
            "/apps/{app_name}/machines/{machine_id}",
            get(machines::get_machine)
                .post(machines::update_machine)
                .delete(machines::destroy_machine),
        )
        .route(
            "/apps/{app_name}/machines/{machine_id}/start",
            post(machine_actions::start),
        )
        .route(
            "/apps/{app_name}/machines/{machine_id}/stop",
            post(machine_actions::stop),
        )
        .route(
            "/apps/{app_name}/machines/{machine_id}/suspend",
            post(machine_actions::suspend),
        )
        .route(
            "/apps/{app_name}/machines/{machine_id}/restart",
            post(machine_actions::restart),
        )
        .route(
            "/apps/{app_name}/machines/{machine_id}/signal",
            post(machine_actions::signal),
        )
        .route(
            "/apps/{app_name}/machines/{machine_id}/cordon",
            post(machine_actions::cordon),
        )
        .route(
            "/apps/{app_name}/machines/{machine_id}/uncordon",
            post(machine_actions::uncordon),
        )
        .route(
            "/apps/{app_name}/machines/{machine_id}/wait",
            get(machine_actions::wait),
        )
        .route(
            "/apps/{app_name}/machines/{machine_id}/exec",
            post(machine_actions::exec),
        )
        .route(
            "/apps/{app_name}/machines/{machine_id}/console",
            get(console::console),
        )
        .route(
            "/apps/{app_name}/machines/{machine_id}/ps",
            get(machine_actions::ps),
        )
        .route(
            "/apps/{app_name}/machines/{machine_id}/events",
            get(machines::events),
        )
        .route(
            "/apps/{app_name}/machines/{machine_id}/versions",
            get(machines::versions),
        )
        .route(
            "/apps/{app_name}/machines/{machine_id}/logs",
            get(machines::logs),
        )
        .route(
            "/apps/{app_name}/machines/{machine_id}/metadata",
            get(machines::get_metadata),
        )
        .route(
            "/apps/{app_name}/machines/{machine_id}/metadata/{key}",
            post(machines::set_metadata).delete(machines::delete_metadata),
        )
        .route(
            "/apps/{app_name}/machines/{machine_id}/lease",
            get(leases::get_lease)
                .post(leases::create_lease)
                .delete(leases::release_lease),
        )
        .route(
            "/apps/{app_name}/volumes",
            get(volumes::list_volumes).post(volumes::create_volume),
        )
        .route(
            "/apps/{app_name}/volumes/{volume_id}",
            get(volumes::get_volume)
                .put(volumes::update_volume)
                .post(volumes::update_volume)
                .delete(volumes::delete_volume),
        )
        .route(
            "/apps/{app_name}/volumes/{volume_id}/extend",
            put(volumes::extend_volume),
        )
        .route(
            "/apps/{app_name}/volumes/{volume_id}/snapshots",
            get(volumes::list_snapshots).post(volumes::create_snapshot),
        )
        .route("/apps/{app_name}/certificates", get(certificates::list))
        .route(
            "/apps/{app_name}/certificates/acme",
            post(certificates::request_acme),
        )
        .route(
            "/apps/{app_name}/certificates/{hostname}",
            get(certificates::show).delete(certificates::delete),
        )
        .route("/internal/routes", get(routes::routes))
        .route(
            "/internal/proxies/{proxy_id}/certificates",
            put(certificates::report),
        )
        .route(
            "/apps/{app_name}/deploys",
            get(deploys::list_deploys).post(deploys::create_deploy),
        )
        .route(
            "/apps/{app_name}/deploys/{deploy_id}",
            get(deploys::get_deploy),
        )
        .route(
            "/apps/{app_name}/deploys/{deploy_id}/events",
            get(deploys::deploy_events),
        )
        .route("/apps/{app_name}/releases", get(releases::list_releases))
        .route(
            "/apps/{app_name}/releases/{version}/rollback",
            post(releases::rollback),
        )
        .route(
            "/apps/{app_name}/secrets",
            get(secrets::list_secrets)
                .post(secrets::set_secrets)
                .delete(secrets::unset_secrets),
        )
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(cp.clone(), require_token));
    Router::new()
        .nest("/v1", v1)
        .route("/healthz", get(|| async { "ok" }))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(middleware::from_fn(reject_oversized))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            panic_response,
        ))
        .layer(middleware::from_fn(request_id))
        .with_state(cp)
}

async fn not_found() -> HttpError {
    HttpError::not_found("no such endpoint: see the API reference (openapi/hangar.json)")
}

/// A handler that panicked answers 500 with a JSON error instead of a
/// dropped connection; the panic itself is logged.
fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let detail = panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "unknown panic".into());
    tracing::error!(%detail, "request handler panicked");
    HttpError::internal(format!(
        "internal error while handling the request ({detail}); this is a Hangar bug, please report it"
    ))
    .into_response()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Refuses requests without the platform token (401).
async fn require_token(State(cp): State<Arc<ControlPlane>>, req: Request, next: Next) -> Response {
    let presented = req
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("FlyV1 "))
        })
        .map(str::trim);
    match presented {
        Some(token) if constant_time_eq(token.as_bytes(), cp.token.as_bytes()) => {
            next.run(req).await
        }
        Some(_) => HttpError::new(
            StatusCode::UNAUTHORIZED,
            "the API token is not valid: use the token `hangar dev` printed (HANGAR_API_TOKEN)",
        )
        .into_response(),
        None => HttpError::new(
            StatusCode::UNAUTHORIZED,
            "missing API token: send `Authorization: Bearer <token>` (HANGAR_API_TOKEN)",
        )
        .into_response(),
    }
}

/// Oversized bodies beyond this are refused without reading them.
const DRAIN_LIMIT: u64 = 16 * 1024 * 1024;

/// Refuses a request whose declared body is over [`BODY_LIMIT`] with 413
/// before any handler runs. The body is read and thrown away first (up to
/// [`DRAIN_LIMIT`]), so that the client, still sending, reliably receives
/// the answer instead of a reset connection.
async fn reject_oversized(req: Request, next: Next) -> Response {
    let declared = req
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let Some(length) = declared.filter(|l| *l > BODY_LIMIT as u64) else {
        return next.run(req).await;
    };
    if length <= DRAIN_LIMIT {
        use http_body_util::BodyExt;
        let mut body = req.into_body();
        while let Some(frame) = body.frame().await {
            if frame.is_err() {
                break;
            }
        }
    }
    HttpError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("request body is larger than the limit of {BODY_LIMIT} bytes"),
    )
    .into_response()
}

/// Adds `Fly-Request-Id` to every answer.
async fn request_id(req: Request, next: Next) -> Response {
    let id = hangar_types::ids::new_instance_id().to_lowercase();
    let mut response = next.run(req).await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("fly-request-id", value);
    }
    response
}
