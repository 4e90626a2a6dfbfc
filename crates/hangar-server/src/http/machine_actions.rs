//! Actions on one machine: start, stop, suspend, restart, signal, cordon,
//! wait, exec, ps.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::Json;
use hangar_types::{
    duration::parse_go_duration, ExecRequest, ExecResponse, MachineState, OkResponse, ProcessStat,
    SignalRequest, SignalValue, StartResponse, StopRequest,
};
use serde::Deserialize;

use crate::http::error::{HttpError, HttpResult};
use crate::http::extract::{ApiJson, ApiQuery, LeaseNonce, OptionalJson, QueryPairs};
use crate::platform::ControlPlane;

type MachinePath = Path<(String, String)>;

async fn guard(
    cp: &ControlPlane,
    app: &str,
    machine: &str,
    nonce: &Option<String>,
) -> HttpResult<()> {
    cp.machine_record(app, machine).await?;
    cp.check_lease(app, machine, nonce).await
}

/// Start a created, stopped, suspended or failed machine.
#[utoipa::path(post, path = "/v1/apps/{app_name}/machines/{machine_id}/start", tag = "Machines", operation_id = "Machines_start",
    params(("app_name" = String, Path, description = "App name"), ("machine_id" = String, Path, description = "Machine id")),
    responses((status = 200, body = StartResponse), (status = 404, body = hangar_types::ApiError), (status = 412, body = hangar_types::ApiError)))]
pub async fn start(
    State(cp): State<Arc<ControlPlane>>,
    Path((app, id)): MachinePath,
    LeaseNonce(nonce): LeaseNonce,
) -> HttpResult<Json<StartResponse>> {
    guard(&cp, &app, &id, &nonce).await?;
    let previous = cp.agent.start(&id).await?;
    let now = cp.agent.record(&id).await?.state;
    Ok(Json(StartResponse {
        message: String::new(),
        status: now.to_string(),
        previous_state: previous.to_string(),
        migrated: false,
        new_host: String::new(),
    }))
}

fn signal_number(value: &SignalValue) -> HttpResult<i32> {
    let parsed = match value {
        SignalValue::Name(s) => hangar_types::signal_number(s),
        SignalValue::Number(n) => i32::try_from(*n).ok().filter(|n| (1..=64).contains(n)),
    };
    parsed.ok_or_else(|| {
        HttpError::bad_request(format!(
            "unknown signal {value}: use {}",
            hangar_types::signal::AcceptedSignals
        ))
    })
}

/// Stop a machine: its stop signal, then SIGKILL after the timeout.
#[utoipa::path(post, path = "/v1/apps/{app_name}/machines/{machine_id}/stop", tag = "Machines", operation_id = "Machines_stop",
    params(("app_name" = String, Path, description = "App name"), ("machine_id" = String, Path, description = "Machine id")),
    request_body(content = Option<StopRequest>),
    responses((status = 200, body = OkResponse), (status = 404, body = hangar_types::ApiError), (status = 412, body = hangar_types::ApiError)))]
pub async fn stop(
    State(cp): State<Arc<ControlPlane>>,
    Path((app, id)): MachinePath,
    LeaseNonce(nonce): LeaseNonce,
    OptionalJson(req): OptionalJson<StopRequest>,
) -> HttpResult<Json<OkResponse>> {
    guard(&cp, &app, &id, &nonce).await?;
    let signal = match req.signal.as_deref().filter(|s| !s.is_empty()) {
        Some(s) => Some(signal_number(&SignalValue::Name(s.to_string()))?),
        None => None,
    };
    cp.agent.stop(&id, signal, req.timeout.map(|d| d.0)).await?;
    Ok(Json(OkResponse::ok()))
}

/// Suspend a started machine (freeze it); start resumes it.
#[utoipa::path(post, path = "/v1/apps/{app_name}/machines/{machine_id}/suspend", tag = "Machines", operation_id = "Machines_suspend",
    params(("app_name" = String, Path, description = "App name"), ("machine_id" = String, Path, description = "Machine id")),
    responses((status = 200, body = OkResponse), (status = 404, body = hangar_types::ApiError), (status = 412, body = hangar_types::ApiError)))]
pub async fn suspend(
    State(cp): State<Arc<ControlPlane>>,
    Path((app, id)): MachinePath,
    LeaseNonce(nonce): LeaseNonce,
) -> HttpResult<Json<OkResponse>> {
    guard(&cp, &app, &id, &nonce).await?;
    cp.agent.suspend(&id).await?;
    Ok(Json(OkResponse::ok()))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct RestartQuery {
    /// Signal to stop with (default: the machine's stop signal).
    pub signal: Option<String>,
    /// Go duration or seconds before SIGKILL.
    pub timeout: Option<String>,
    pub force_stop: Option<bool>,
}

/// Restart a started machine.
#[utoipa::path(post, path = "/v1/apps/{app_name}/machines/{machine_id}/restart", tag = "Machines", operation_id = "Machines_restart",
    params(("app_name" = String, Path, description = "App name"), ("machine_id" = String, Path, description = "Machine id"), RestartQuery),
    responses((status = 200, body = OkResponse), (status = 400, body = hangar_types::ApiError), (status = 412, body = hangar_types::ApiError)))]
pub async fn restart(
    State(cp): State<Arc<ControlPlane>>,
    Path((app, id)): MachinePath,
    LeaseNonce(nonce): LeaseNonce,
    ApiQuery(q): ApiQuery<RestartQuery>,
) -> HttpResult<Json<OkResponse>> {
    guard(&cp, &app, &id, &nonce).await?;
    let signal = match q.signal.as_deref().filter(|s| !s.is_empty()) {
        Some(s) => Some(signal_number(&SignalValue::Name(s.to_string()))?),
        None if q.force_stop == Some(true) => Some(libc_sigkill()),
        None => None,
    };
    let timeout = match q.timeout.as_deref().filter(|s| !s.is_empty()) {
        Some(t) => Some(
            parse_go_duration(t).map_err(|e| HttpError::bad_request(format!("timeout: {e}")))?,
        ),
        None => None,
    };
    cp.agent.restart(&id, signal, timeout).await?;
    Ok(Json(OkResponse::ok()))
}

fn libc_sigkill() -> i32 {
    9
}

/// Send a signal to the machine's main process.
#[utoipa::path(post, path = "/v1/apps/{app_name}/machines/{machine_id}/signal", tag = "Machines", operation_id = "Machines_signal",
    params(("app_name" = String, Path, description = "App name"), ("machine_id" = String, Path, description = "Machine id")),
    request_body = SignalRequest,
    responses((status = 200, body = OkResponse), (status = 400, body = hangar_types::ApiError), (status = 412, body = hangar_types::ApiError)))]
pub async fn signal(
    State(cp): State<Arc<ControlPlane>>,
    Path((app, id)): MachinePath,
    LeaseNonce(nonce): LeaseNonce,
    ApiJson(req): ApiJson<SignalRequest>,
) -> HttpResult<Json<OkResponse>> {
    guard(&cp, &app, &id, &nonce).await?;
    let sig = signal_number(&req.signal)?;
    cp.agent.signal(&id, sig).await?;
    Ok(Json(OkResponse::ok()))
}

/// Take the machine out of proxy routing without stopping it.
#[utoipa::path(post, path = "/v1/apps/{app_name}/machines/{machine_id}/cordon", tag = "Machines", operation_id = "Machines_cordon",
    params(("app_name" = String, Path, description = "App name"), ("machine_id" = String, Path, description = "Machine id")),
    responses((status = 200, body = OkResponse), (status = 404, body = hangar_types::ApiError)))]
pub async fn cordon(
    State(cp): State<Arc<ControlPlane>>,
    Path((app, id)): MachinePath,
    LeaseNonce(nonce): LeaseNonce,
) -> HttpResult<Json<OkResponse>> {
    guard(&cp, &app, &id, &nonce).await?;
    cp.agent.set_cordoned(&id, true).await?;
    Ok(Json(OkResponse::ok()))
}

/// Put the machine back into proxy routing.
#[utoipa::path(post, path = "/v1/apps/{app_name}/machines/{machine_id}/uncordon", tag = "Machines", operation_id = "Machines_uncordon",
    params(("app_name" = String, Path, description = "App name"), ("machine_id" = String, Path, description = "Machine id")),
    responses((status = 200, body = OkResponse), (status = 404, body = hangar_types::ApiError)))]
pub async fn uncordon(
    State(cp): State<Arc<ControlPlane>>,
    Path((app, id)): MachinePath,
    LeaseNonce(nonce): LeaseNonce,
) -> HttpResult<Json<OkResponse>> {
    guard(&cp, &app, &id, &nonce).await?;
    cp.agent.set_cordoned(&id, false).await?;
    Ok(Json(OkResponse::ok()))
}

/// The longest wait.
const MAX_WAIT_SECS: u64 = 60;

/// Wait until the machine reaches a state (`started` by default; `state`
/// may repeat), for at most `timeout` seconds (≤ 60); 408 on timeout.
#[utoipa::path(get, path = "/v1/apps/{app_name}/machines/{machine_id}/wait", tag = "Machines", operation_id = "Machines_wait",
    params(("app_name" = String, Path, description = "App name"), ("machine_id" = String, Path, description = "Machine id"),
        ("state" = Option<String>, Query, description = "started, stopped, suspended or destroyed (repeatable)"),
        ("timeout" = Option<i64>, Query, description = "seconds, 1-60, default 60"),
        ("instance_id" = Option<String>, Query, description = "wait for this version"),
        ("version" = Option<String>, Query, description = "flyctl's name for instance_id")),
    responses((status = 200, body = OkResponse), (status = 400, body = hangar_types::ApiError), (status = 404, body = hangar_types::ApiError), (status = 408, body = hangar_types::ApiError)))]
pub async fn wait(
    State(cp): State<Arc<ControlPlane>>,
    Path((app, id)): MachinePath,
    QueryPairs(pairs): QueryPairs,
) -> HttpResult<Json<OkResponse>> {
    let mut states = Vec::new();
    let mut timeout = Duration::from_secs(MAX_WAIT_SECS);
    let mut instance = None;
    for (k, v) in pairs {
        match k.as_str() {
            "state" => {
                for s in v.split(',').filter(|s| !s.is_empty()) {
                    let state: MachineState =
                        s.parse().map_err(|e: hangar_types::UnknownState| {
                            HttpError::bad_request(e.to_string())
                        })?;
                    states.push(state);
                }
            }
            "timeout" if !v.is_empty() => {
                let secs = match v.parse::<u64>() {
                    Ok(s) => s,
                    Err(_) => parse_go_duration(&v)
                        .map_err(|_| HttpError::bad_request(format!("timeout must be a number of seconds from 1 to {MAX_WAIT_SECS}, not {v:?}")))?
                        .as_secs(),
                };
                if !(1..=MAX_WAIT_SECS).contains(&secs) {
                    return Err(HttpError::bad_request(format!(
                        "timeout must be between 1 and {MAX_WAIT_SECS} seconds (got {v}); loop on 408 to wait longer"
                    )));
                }
                timeout = Duration::from_secs(secs);
            }
            "instance_id" | "version" if !v.is_empty() => instance = Some(v),
            _ => {}
        }
    }
    if states.is_empty() {
        states.push(MachineState::Started);
    }
    match cp.machine_record(&app, &id).await {
        Ok(_) => {}
        Err(e) => return Err(e),
    }
    cp.agent
        .wait(&id, &states, instance.as_deref(), timeout)
        .await?;
    Ok(Json(OkResponse::ok()))
}

/// The longest exec.
const MAX_EXEC_SECS: i64 = 300;

/// Run a command in the machine; answers its exit code, stdout and stderr.
#[utoipa::path(post, path = "/v1/apps/{app_name}/machines/{machine_id}/exec", tag = "Machines", operation_id = "Machines_exec",
    params(("app_name" = String, Path, description = "App name"), ("machine_id" = String, Path, description = "Machine id")),
    request_body = ExecRequest,
    responses((status = 200, body = ExecResponse), (status = 400, body = hangar_types::ApiError), (status = 408, body = hangar_types::ApiError), (status = 412, body = hangar_types::ApiError)))]
pub async fn exec(
    State(cp): State<Arc<ControlPlane>>,
    Path((app, id)): MachinePath,
    ApiJson(req): ApiJson<ExecRequest>,
) -> HttpResult<Json<ExecResponse>> {
    let argv = if !req.command.is_empty() {
        req.command.clone()
    } else if let Some(cmd) = req.cmd.as_deref().filter(|c| !c.trim().is_empty()) {
        hangar_config::shell::split(cmd).map_err(|e| {
            HttpError::bad_request(format!("cannot split cmd {cmd:?}: {e}; check its quotes"))
        })?
    } else {
        return Err(HttpError::bad_request(
            "give the command to run as `command` (an array) or `cmd` (a string)",
        ));
    };
    let secs = req.timeout.unwrap_or(30);
    if !(1..=MAX_EXEC_SECS).contains(&secs) {
        return Err(HttpError::bad_request(format!(
            "timeout must be between 1 and {MAX_EXEC_SECS} seconds (got {secs})"
        )));
    }
    cp.machine_record(&app, &id).await?;
    let out = cp
        .agent
        .exec(
            &id,
            argv,
            Duration::from_secs(secs as u64),
            req.stdin.map(String::into_bytes),
        )
        .await?;
    Ok(Json(ExecResponse {
        exit_code: out.exit_code,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct PsQuery {
    /// pid, cpu, rss or command.
    pub sort_by: Option<String>,
    /// asc or desc.
    pub order: Option<String>,
}

/// The processes inside the machine.
#[utoipa::path(get, path = "/v1/apps/{app_name}/machines/{machine_id}/ps", tag = "Machines", operation_id = "Machines_list_processes",
    params(("app_name" = String, Path, description = "App name"), ("machine_id" = String, Path, description = "Machine id"), PsQuery),
    responses((status = 200, body = [ProcessStat]), (status = 404, body = hangar_types::ApiError), (status = 412, body = hangar_types::ApiError)))]
pub async fn ps(
    State(cp): State<Arc<ControlPlane>>,
    Path((app, id)): MachinePath,
    ApiQuery(q): ApiQuery<PsQuery>,
) -> HttpResult<Json<Vec<ProcessStat>>> {
    cp.machine_record(&app, &id).await?;
    let mut list: Vec<ProcessStat> = cp
        .agent
        .ps(&id)
        .await?
        .into_iter()
        .map(|p| ProcessStat {
            pid: i64::from(p.pid),
            command: p.command,
            directory: p.directory,
            cpu: p.cpu as i64,
            rss: p.rss as i64,
            rtime: p.rtime as i64,
            stime: p.stime as i64,
            listen_sockets: p
                .listen_sockets
                .into_iter()
                .map(|s| hangar_types::ListenSocket {
                    proto: s.proto,
                    address: s.address,
                })
                .collect(),
        })
        .collect();
    match q.sort_by.as_deref().unwrap_or("pid") {
        "cpu" => list.sort_by_key(|p| p.cpu),
        "rss" => list.sort_by_key(|p| p.rss),
        "command" => list.sort_by(|a, b| a.command.cmp(&b.command)),
        _ => list.sort_by_key(|p| p.pid),
    }
    if q.order.as_deref() == Some("desc") {
        list.reverse();
    }
    Ok(Json(list))
}
