//! `[http_service]`, `[[services]]` and their ports, checks and options.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::units::GoDuration;

/// What the proxy does with idle Machines of a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutoStop {
    /// Never stop Machines (legacy `false`).
    Off,
    /// Stop idle Machines (legacy `true`).
    Stop,
    /// Suspend idle Machines.
    Suspend,
}

impl AutoStop {
    /// The fly.toml spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            AutoStop::Off => "off",
            AutoStop::Stop => "stop",
            AutoStop::Suspend => "suspend",
        }
    }

    /// Parses `off`/`stop`/`suspend` (also `false`/`true` as strings).
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "off" | "false" => Some(AutoStop::Off),
            "stop" | "true" => Some(AutoStop::Stop),
            "suspend" => Some(AutoStop::Suspend),
            _ => None,
        }
    }
}

impl Serialize for AutoStop {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for AutoStop {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Wire {
            Flag(bool),
            Text(String),
        }
        match Wire::deserialize(deserializer)? {
            Wire::Flag(false) => Ok(AutoStop::Off),
            Wire::Flag(true) => Ok(AutoStop::Stop),
            Wire::Text(text) => AutoStop::parse(&text).ok_or_else(|| {
                serde::de::Error::custom(format!(
                    "invalid autostop {text:?}: expected \"off\", \"stop\" or \"suspend\""
                ))
            }),
        }
    }
}

/// Concurrency limits of a service.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Concurrency {
    /// `connections` or `requests`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Hard limit: no more load above this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hard_limit: Option<i64>,
    /// Soft limit: prefer other Machines above this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub soft_limit: Option<i64>,
}

/// TLS handler options of a port.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TlsOptions {
    /// ALPN protocols.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alpn: Vec<String>,
    /// TLS versions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub versions: Vec<String>,
    /// Serve a self-signed certificate when no other matches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_self_signed: Option<bool>,
}

/// A response header rule: `false` removes, a string sets, a list sets several values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum HeaderValue {
    /// `false` removes the header (`true` is accepted and ignored).
    Flag(bool),
    /// Set the header to this value.
    Text(String),
    /// Set the header to several values.
    List(Vec<String>),
}

/// `http_options.response`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct HttpResponseOptions {
    /// Header rules.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, HeaderValue>,
    /// Do not add or modify proxy headers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pristine: Option<bool>,
}

/// One `replay_cache` rule.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ReplayCache {
    /// Path prefix the rule applies to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_prefix: Option<String>,
    /// Cache lifetime (≥10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_seconds: Option<i64>,
    /// `cookie` or `header`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Cookie or header name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Allow clients to bypass the cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_bypass: Option<bool>,
}

/// HTTP handler options of a port.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct HttpOptions {
    /// Compress responses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compress: Option<bool>,
    /// Talk h2c to the app.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub h2_backend: Option<bool>,
    /// Idle connection timeout in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_timeout: Option<i64>,
    /// Header read timeout in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers_read_timeout: Option<i64>,
    /// Response rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<HttpResponseOptions>,
    /// Replay cache rules.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replay_cache: Vec<ReplayCache>,
}

/// PROXY protocol options.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ProxyProtoOptions {
    /// `v1` (default) or `v2`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// A public port of a service (`[[services.ports]]`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Port {
    /// Port number (legacy string accepted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i64>,
    /// First port of a range.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_port: Option<i64>,
    /// Last port of a range.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_port: Option<i64>,
    /// `http`, `tls`, `pg_tls`, `proxy_proto`; none = raw TCP.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub handlers: Vec<String>,
    /// Redirect plain HTTP to HTTPS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force_https: Option<bool>,
    /// TLS options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_options: Option<TlsOptions>,
    /// HTTP options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_options: Option<HttpOptions>,
    /// PROXY protocol options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_proto_options: Option<ProxyProtoOptions>,
}

/// `[[services.tcp_checks]]`.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct ServiceTcpCheck {
    /// Time between probes; a bare number is milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval: Option<GoDuration>,
    /// Probe timeout; a bare number is milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<GoDuration>,
    /// Delay before the first probe; a bare number is milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grace_period: Option<GoDuration>,
}

/// `[[services.http_checks]]` and `[[http_service.checks]]`.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct ServiceHttpCheck {
    /// Time between probes; a bare number is milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval: Option<GoDuration>,
    /// Probe timeout; a bare number is milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<GoDuration>,
    /// Delay before the first probe; a bare number is milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grace_period: Option<GoDuration>,
    /// HTTP method.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// HTTP path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// `http` or `https`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// Skip TLS verification.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_skip_verify: Option<bool>,
    /// SNI name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_server_name: Option<String>,
    /// Request headers.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
}

/// A deploy-time test Machine (`[[machine_checks]]`).
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct MachineCheck {
    /// Command to run (required).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    /// Image; defaults to the tested Machine's image.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Entrypoint; defaults to the tested Machine's.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub entrypoint: Vec<String>,
    /// Stop signal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kill_signal: Option<String>,
    /// Stop timeout.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kill_timeout: Option<GoDuration>,
}

/// `[http_service]`: one TCP service on ports 80 (http) and 443 (tls+http).
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct HttpService {
    /// Port the app listens on (required by Hangar; flyctl silently uses 0).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub internal_port: Option<i64>,
    /// Redirect port 80 to HTTPS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub force_https: Option<bool>,
    /// Autostop mode (unset = platform default).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_stop_machines: Option<AutoStop>,
    /// Autostart (unset = platform default true).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_start_machines: Option<bool>,
    /// Machines kept running in the primary region.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_machines_running: Option<i64>,
    /// Groups served (empty = default group).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub processes: Vec<String>,
    /// Concurrency limits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<Concurrency>,
    /// TLS options of port 443.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_options: Option<TlsOptions>,
    /// HTTP options of both ports.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_options: Option<HttpOptions>,
    /// HTTP checks.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<ServiceHttpCheck>,
    /// Deploy-time test Machines.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub machine_checks: Vec<MachineCheck>,
}

/// `[[services]]`.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Service {
    /// `tcp` or `udp`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// Port the app listens on (legacy string accepted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub internal_port: Option<i64>,
    /// Autostop mode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_stop_machines: Option<AutoStop>,
    /// Autostart.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_start_machines: Option<bool>,
    /// Machines kept running in the primary region.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_machines_running: Option<i64>,
    /// Public ports.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<Port>,
    /// Concurrency limits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<Concurrency>,
    /// TCP checks.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tcp_checks: Vec<ServiceTcpCheck>,
    /// HTTP checks.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub http_checks: Vec<ServiceHttpCheck>,
    /// Deploy-time test Machines.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub machine_checks: Vec<MachineCheck>,
    /// Groups served (empty = default group).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub processes: Vec<String>,
}
