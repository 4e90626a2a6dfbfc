//! `/v1/apps/{app}/machines`: the resource itself, its events, versions,
//! metadata and logs.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::Response;
use axum::Json;
use futures_util::StreamExt;
use hangar_types::{
    CreateMachineRequest, Machine, MachineEvent, MachineVersion, MetadataValue, OkResponse,
    UpdateMachineRequest,
};
use serde::Deserialize;

use crate::http::error::{HttpError, HttpResult};
use crate::http::extract::{ApiJson, ApiQuery, LeaseNonce, OptionalJson, QueryPairs};
use crate::platform::machines::MachineFilter;
use crate::platform::ControlPlane;

fn parse_bool(name: &str, value: &str) -> HttpResult<bool> {
    match value {
        "true" | "1" | "" => Ok(true),
        "false" | "0" => Ok(false),
        other => Err(HttpError::bad_request(format!(
            "{name} must be true or false, not {other:?}"
        ))),
    }
}

/// List machines; filters `include_deleted`, `region`, `metadata.KEY=VALUE`.
#[utoipa::path(get, path = "/v1/apps/{app_name}/machines", tag = "Machines", operation_id = "Machines_list",
    params(("app_name" = String, Path, description = "App name"),
        ("include_deleted" = Option<bool>, Query, description = "Include destroyed machines"),
        ("region" = Option<String>, Query, description = "Region filter"),
        ("metadata.{key}" = Option<String>, Query, description = "Metadata filter")),
    responses((status = 200, body = [Machine]), (status = 404, body = hangar_types::ApiError)))]
pub async fn list_machines(
    State(cp): State<Arc<ControlPlane>>,
    Path(app_name): Path<String>,
    QueryPairs(pairs): QueryPairs,
) -> HttpResult<Json<Vec<Machine>>> {
    let mut filter = MachineFilter::default();
    for (k, v) in pairs {
        match k.as_str() {
            "include_deleted" => filter.include_deleted = parse_bool("include_deleted", &v)?,
            "region" if !v.is_empty() => filter.region = Some(v),
            _ => {
                if let Some(key) = k.strip_prefix("metadata.") {
                    filter.metadata.push((key.to_string(), v));
                }
            }
        }
    }
    Ok(Json(cp.list_machines(&app_name, &filter).await?))
}

/// Create a machine (and start it unless `skip_launch`).
#[utoipa::path(post, path = "/v1/apps/{app_name}/machines", tag = "Machines", operation_id = "Machines_create",
    params(("app_name" = String, Path, description = "App name")),
    request_body = CreateMachineRequest,
    responses((status = 200, body = Machine), (status = 400, body = hangar_types::ApiError), (status = 404, body = hangar_types::ApiError)))]
pub async fn create_machine(
    State(cp): State<Arc<ControlPlane>>,
    Path(app_name): Path<String>,
    ApiJson(req): ApiJson<CreateMachineRequest>,
) -> HttpResult<Json<Machine>> {
    Ok(Json(cp.create_machine(&app_name, req).await?))
}

/// Get a machine.
#[utoipa::path(get, path = "/v1/apps/{app_name}/machines/{machine_id}", tag = "Machines", operation_id = "Machines_show",
    params(("app_name" = String, Path, description = "App name"), ("machine_id" = String, Path, description = "Machine id")),
    responses((status = 200, body = Machine), (status = 404, body = hangar_types::ApiError)))]
pub async fn get_machine(
    State(cp): State<Arc<ControlPlane>>,
    Path((app_name, machine_id)): Path<(String, String)>,
) -> HttpResult<Json<Machine>> {
    Ok(Json(cp.machine_view(&app_name, &machine_id).await?))
}

/// Update a machine: replaces its whole config; a running machine restarts on it.
#[utoipa::path(post, path = "/v1/apps/{app_name}/machines/{machine_id}", tag = "Machines", operation_id = "Machines_update",
    params(("app_name" = String, Path, description = "App name"), ("machine_id" = String, Path, description = "Machine id")),
    request_body = UpdateMachineRequest,
    responses((status = 200, body = Machine), (status = 400, body = hangar_types::ApiError), (status = 409, body = hangar_types::ApiError), (status = 412, body = hangar_types::ApiError)))]
pub async fn update_machine(
    State(cp): State<Arc<ControlPlane>>,
    Path((app_name, machine_id)): Path<(String, String)>,
    LeaseNonce(nonce): LeaseNonce,
    ApiJson(req): ApiJson<UpdateMachineRequest>,
) -> HttpResult<Json<Machine>> {
    Ok(Json(
        cp.update_machine(&app_name, &machine_id, req, &nonce)
            .await?,
    ))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct DestroyQuery {
    /// Stop the machine first if it runs.
    pub force: Option<bool>,
    /// flyctl's name for `force`.
    pub kill: Option<bool>,
}

/// Destroy a machine; a started one needs `force=true` (or `kill=true`).
#[utoipa::path(delete, path = "/v1/apps/{app_name}/machines/{machine_id}", tag = "Machines", operation_id = "Machines_delete",
    params(("app_name" = String, Path, description = "App name"), ("machine_id" = String, Path, description = "Machine id"), DestroyQuery),
    responses((status = 200, body = OkResponse), (status = 404, body = hangar_types::ApiError), (status = 412, body = hangar_types::ApiError)))]
pub async fn destroy_machine(
    State(cp): State<Arc<ControlPlane>>,
    Path((app_name, machine_id)): Path<(String, String)>,
    LeaseNonce(nonce): LeaseNonce,
    ApiQuery(q): ApiQuery<DestroyQuery>,
) -> HttpResult<Json<OkResponse>> {
    let force = q.force.unwrap_or(false) || q.kill.unwrap_or(false);
    cp.destroy_machine(&app_name, &machine_id, force, &nonce)
        .await?;
    Ok(Json(OkResponse::ok()))
}

/// The machine's events, newest first.
#[utoipa::path(get, path = "/v1/apps/{app_name}/machines/{machine_id}/events", tag = "Machines", operation_id = "Machines_list_events",
    params(("app_name" = String, Path, description = "App name"), ("machine_id" = String, Path, description = "Machine id")),
    responses((status = 200, body = [MachineEvent]), (status = 404, body = hangar_types::ApiError)))]
pub async fn events(
    State(cp): State<Arc<ControlPlane>>,
    Path((app_name, machine_id)): Path<(String, String)>,
) -> HttpResult<Json<Vec<MachineEvent>>> {
    cp.machine_record(&app_name, &machine_id).await?;
    Ok(Json(cp.agent.events(&machine_id).await?))
}

/// The machine's config versions, newest first.
#[utoipa::path(get, path = "/v1/apps/{app_name}/machines/{machine_id}/versions", tag = "Machines", operation_id = "Machines_list_versions",
    params(("app_name" = String, Path, description = "App name"), ("machine_id" = String, Path, description = "Machine id")),
    responses((status = 200, body = [MachineVersion]), (status = 404, body = hangar_types::ApiError)))]
pub async fn versions(
    State(cp): State<Arc<ControlPlane>>,
    Path((app_name, machine_id)): Path<(String, String)>,
) -> HttpResult<Json<Vec<MachineVersion>>> {
    let record = cp.machine_record(&app_name, &machine_id).await?;
    let mut versions = record.versions;
    versions.reverse();
    Ok(Json(versions))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct LogsQuery {
    /// Keep the answer open and stream new lines.
    pub follow: Option<bool>,
    /// How many past lines to send first (default 100).
    pub tail: Option<usize>,
}

/// Hangar extension: the machine's stdout/stderr as newline-delimited JSON.
#[utoipa::path(get, path = "/v1/apps/{app_name}/machines/{machine_id}/logs", tag = "Machines", operation_id = "Machines_logs",
    params(("app_name" = String, Path, description = "App name"), ("machine_id" = String, Path, description = "Machine id"), LogsQuery),
    responses((status = 200, description = "application/x-ndjson: {timestamp, stream, message, instance_id} per line"), (status = 404, body = hangar_types::ApiError)))]
pub async fn logs(
    State(cp): State<Arc<ControlPlane>>,
    Path((app_name, machine_id)): Path<(String, String)>,
    ApiQuery(q): ApiQuery<LogsQuery>,
) -> HttpResult<Response> {
    cp.machine_record(&app_name, &machine_id).await?;
    let (past, live) = cp.agent.logs(&machine_id, q.tail.unwrap_or(100)).await?;
    let encode = |line: &hangar_agent::LogLine| {
        let mut bytes = serde_json::to_vec(line).unwrap_or_default();
        bytes.push(b'\n');
        Ok::<_, std::io::Error>(bytes::Bytes::from(bytes))
    };
    let past_stream = futures_util::stream::iter(past.iter().map(encode).collect::<Vec<_>>());
    let body = if q.follow.unwrap_or(false) {
        let live = futures_util::stream::unfold(live, |mut rx| async move {
            loop {
                match rx.recv().await {
                    Ok(line) => return Some((line, rx)),
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
                }
            }
        })
        .map(move |line| encode(&line));
        Body::from_stream(past_stream.chain(live))
    } else {
        Body::from_stream(past_stream)
    };
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/x-ndjson")
        .body(body)
        .unwrap_or_default())
}

/// The machine's metadata.
#[utoipa::path(get, path = "/v1/apps/{app_name}/machines/{machine_id}/metadata", tag = "Machines", operation_id = "Machines_show_metadata",
    params(("app_name" = String, Path, description = "App name"), ("machine_id" = String, Path, description = "Machine id")),
    responses((status = 200, body = BTreeMap<String, String>), (status = 404, body = hangar_types::ApiError)))]
pub async fn get_metadata(
    State(cp): State<Arc<ControlPlane>>,
    Path((app_name, machine_id)): Path<(String, String)>,
) -> HttpResult<Json<BTreeMap<String, String>>> {
    Ok(Json(
        cp.machine_record(&app_name, &machine_id)
            .await?
            .config
            .metadata,
    ))
}

fn valid_metadata_key(key: &str) -> HttpResult<()> {
    if key.is_empty()
        || key.len() > 256
        || !key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        return Err(HttpError::bad_request(format!(
            "invalid metadata key {key:?}: use letters, digits, '-', '_' and '.'"
        )));
    }
    Ok(())
}

/// Set one metadata key (does not create a new machine version).
#[utoipa::path(post, path = "/v1/apps/{app_name}/machines/{machine_id}/metadata/{key}", tag = "Machines", operation_id = "Machines_update_metadata",
    params(("app_name" = String, Path, description = "App name"), ("machine_id" = String, Path, description = "Machine id"), ("key" = String, Path, description = "Metadata key")),
    request_body = MetadataValue,
    responses((status = 204), (status = 400, body = hangar_types::ApiError), (status = 404, body = hangar_types::ApiError)))]
pub async fn set_metadata(
    State(cp): State<Arc<ControlPlane>>,
    Path((app_name, machine_id, key)): Path<(String, String, String)>,
    LeaseNonce(nonce): LeaseNonce,
    OptionalJson(body): OptionalJson<MetadataValue>,
) -> HttpResult<StatusCode> {
    valid_metadata_key(&key)?;
    cp.machine_record(&app_name, &machine_id).await?;
    cp.check_lease(&app_name, &machine_id, &nonce).await?;
    cp.agent
        .set_metadata(&machine_id, key, Some(body.value))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Delete one metadata key.
#[utoipa::path(delete, path = "/v1/apps/{app_name}/machines/{machine_id}/metadata/{key}", tag = "Machines", operation_id = "Machines_delete_metadata",
    params(("app_name" = String, Path, description = "App name"), ("machine_id" = String, Path, description = "Machine id"), ("key" = String, Path, description = "Metadata key")),
    responses((status = 204), (status = 404, body = hangar_types::ApiError)))]
pub async fn delete_metadata(
    State(cp): State<Arc<ControlPlane>>,
    Path((app_name, machine_id, key)): Path<(String, String, String)>,
    LeaseNonce(nonce): LeaseNonce,
) -> HttpResult<StatusCode> {
    cp.machine_record(&app_name, &machine_id).await?;
    cp.check_lease(&app_name, &machine_id, &nonce).await?;
    cp.agent.set_metadata(&machine_id, key, None).await?;
    Ok(StatusCode::NO_CONTENT)
}
