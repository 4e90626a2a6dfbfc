//! Errors the proxy answers itself, each with a Fly-style code.

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Response, StatusCode};

/// Header carrying the proxy's error code on responses it generated.
pub const ERROR_CODE_HEADER: &str = "hangar-proxy-error";

/// Why the proxy answered a request itself instead of a Machine.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProxyErrorCode {
    /// No app is served at the request's host.
    #[error("PN01: no app is served at host {0:?}; apps are reached at <app>.<app-domain>")]
    UnknownApp(String),
    /// The app has no service with an `http` handler on this port.
    #[error("PN02: app {app:?} has no http service on port {port}")]
    NoService { app: String, port: u16 },
    /// A TLS connection's SNI name routes to one app and a request's Host to
    /// another (or to none). The connection was set up, certificate
    /// included, for the SNI app, so the request is refused with
    /// `421 Misdirected Request` (RFC 9110 §15.5.20) rather than sent to an
    /// app the client did not authenticate; a client may retry on a new
    /// connection whose SNI names the Host.
    #[error("PN03: this TLS connection is for app {sni_app:?} (SNI) but the request is for host {host:?}; connect again with SNI {host:?}")]
    Misdirected { sni_app: String, host: String },
    /// No Machine is started, healthy and uncordoned, and none can be started.
    #[error(
        "PR01: no healthy Machine of app {0:?} can take the request; start one or fix its checks"
    )]
    NoHealthyMachine(String),
    /// Connecting to every candidate Machine failed.
    #[error("PR03: could not connect to any Machine of app {0:?}")]
    RetriesExhausted(String),
    /// Every Machine stayed at its hard limit while the request waited.
    #[error("PR04: every Machine of app {0:?} is at its hard concurrency limit; the request waited and timed out")]
    CapacityTimeout(String),
    /// Too many requests are already waiting for capacity.
    #[error("PR05: too many requests of app {0:?} are waiting for a Machine")]
    QueueFull(String),
    /// Starting a Machine for the request failed or took too long.
    #[error("PM01: starting Machine {machine} of app {app:?} failed: {reason}")]
    AutostartFailed {
        app: String,
        machine: String,
        reason: String,
    },
    /// The Machine answered with a broken response or reset the connection.
    #[error("PU01: Machine {machine} of app {app:?} failed mid-request: {reason}")]
    UpstreamFailed {
        app: String,
        machine: String,
        reason: String,
    },
    /// A Machine's `fly-replay` header could not be understood.
    #[error("PA03: invalid fly-replay from the Machine: {0}")]
    ReplayInvalid(String),
    /// A request was replayed more times than allowed.
    #[error("PA02: the request was replayed more than {0} times")]
    ReplayChainTooLong(usize),
    /// A replay named an app the proxy does not know.
    #[error("PA04: fly-replay names app {0:?}, which has no Machines")]
    ReplayUnknownApp(String),
    /// The Machine asked for a replay this proxy cannot do yet.
    #[error("PA06: the proxy cannot do this fly-replay: {0}")]
    ReplayUnsupported(String),
    /// A replay's `timeout` passed before a target Machine could take it.
    #[error("PA07: the fly-replay to app {0:?} found no Machine within its timeout")]
    ReplayTimedOut(String),
    /// A request sent back by a replay `fallback` was replayed again.
    #[error(
        "PA08: Machine {0} asked to replay a fallback request; fallback requests may not replay"
    )]
    ReplayAfterFallback(String),
    /// The client's request could not be read.
    #[error("PC01: could not read the request: {0}")]
    BadRequest(String),
}

impl ProxyErrorCode {
    /// The short code (`PR04`, …) sent in the error header.
    pub fn code(&self) -> &'static str {
        match self {
            ProxyErrorCode::UnknownApp(_) => "PN01",
            ProxyErrorCode::NoService { .. } => "PN02",
            ProxyErrorCode::Misdirected { .. } => "PN03",
            ProxyErrorCode::NoHealthyMachine(_) => "PR01",
            ProxyErrorCode::RetriesExhausted(_) => "PR03",
            ProxyErrorCode::CapacityTimeout(_) => "PR04",
            ProxyErrorCode::QueueFull(_) => "PR05",
            ProxyErrorCode::AutostartFailed { .. } => "PM01",
            ProxyErrorCode::UpstreamFailed { .. } => "PU01",
            ProxyErrorCode::ReplayInvalid(_) => "PA03",
            ProxyErrorCode::ReplayChainTooLong(_) => "PA02",
            ProxyErrorCode::ReplayUnknownApp(_) => "PA04",
            ProxyErrorCode::ReplayUnsupported(_) => "PA06",
            ProxyErrorCode::ReplayTimedOut(_) => "PA07",
            ProxyErrorCode::ReplayAfterFallback(_) => "PA08",
            ProxyErrorCode::BadRequest(_) => "PC01",
        }
    }

    /// The HTTP status the client gets.
    pub fn status(&self) -> StatusCode {
        match self {
            ProxyErrorCode::UnknownApp(_) | ProxyErrorCode::NoService { .. } => {
                StatusCode::NOT_FOUND
            }
            ProxyErrorCode::UpstreamFailed { .. }
            | ProxyErrorCode::ReplayInvalid(_)
            | ProxyErrorCode::ReplayChainTooLong(_)
            | ProxyErrorCode::ReplayUnknownApp(_)
            | ProxyErrorCode::ReplayUnsupported(_)
            | ProxyErrorCode::ReplayAfterFallback(_) => StatusCode::BAD_GATEWAY,
            ProxyErrorCode::BadRequest(_) => StatusCode::BAD_REQUEST,
            ProxyErrorCode::Misdirected { .. } => StatusCode::MISDIRECTED_REQUEST,
            _ => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// A plain-text response naming the code.
    pub(crate) fn response(&self) -> Response<Full<Bytes>> {
        let mut response = Response::new(Full::new(Bytes::from(format!("{self}\n"))));
        *response.status_mut() = self.status();
        let headers = response.headers_mut();
        headers.insert(
            hyper::header::CONTENT_TYPE,
            hyper::header::HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        headers.insert(
            ERROR_CODE_HEADER,
            hyper::header::HeaderValue::from_static(self.code()),
        );
        response
    }
}
