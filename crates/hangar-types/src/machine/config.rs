//! `MachineConfig` and its parts: what a Machine runs and how.
//!
//! Every optional field is omitted from JSON when unset, as Fly's API does;
//! durations are Go duration strings.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::duration::GoDuration;

/// The full configuration of one Machine. An update replaces it whole.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = api::MachineConfig)]
pub struct MachineConfig {
    /// Image reference; the only required field (omitted from JSON when empty,
    /// as in a config not yet given an image).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub image: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init: Option<MachineInit>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guest: Option<MachineGuest>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mounts: Vec<MachineMount>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<MachineService>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub checks: BTreeMap<String, MachineCheck>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart: Option<MachineRestart>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_config: Option<StopConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_destroy: Option<bool>,
    /// `hourly`, `daily`, `weekly` or `monthly`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    /// Machines this one stands by for: it starts when one of them fails.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub standbys: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub processes: Vec<MachineProcess>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<MachineFile>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns: Option<DnsConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<MachineMetrics>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub statics: Vec<Static>,
    /// Deprecated preset name; mutually exclusive with `guest`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_machine_autostart: Option<bool>,
    /// Root filesystem size and persistence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rootfs: Option<MachineRootfs>,
    /// Sidecar container definitions, carried through unchanged (not run by Hangar).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<Object>)]
    pub containers: Vec<serde_json::Value>,
    /// Volumes shared by `containers`, carried through unchanged.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<Object>)]
    pub volumes: Vec<serde_json::Value>,
}

/// Root filesystem of a Machine.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = api::MachineRootfs)]
pub struct MachineRootfs {
    /// Size of the root filesystem in GB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_gb: Option<i64>,
    /// Size of the filesystem inside it in GB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fs_size_gb: Option<i64>,
    /// `never`, `always` or `restart`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persist: Option<String>,
}

/// How the Machine's main process is started.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = api::MachineInit)]
pub struct MachineInit {
    /// Replaces entrypoint and cmd entirely.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exec: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entrypoint: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cmd: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tty: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub swap_size_mb: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kernel_args: Vec<String>,
}

/// CPU and memory of a Machine.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = api::MachineGuest)]
pub struct MachineGuest {
    /// `shared` or `performance`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpus: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_mb: Option<i64>,
    /// Memory ceiling in MB (memory may grow up to it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_memory_mb: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpus: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu_kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_dedication_id: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kernel_args: Vec<String>,
    /// Deprecated in favour of `rootfs.persist`: `never`, `always` or `restart`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persist_rootfs: Option<String>,
}

/// A volume mounted into the Machine.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = api::MachineMount)]
pub struct MachineMount {
    /// Volume id (`vol_…`); empty (and omitted) in a config built from
    /// fly.toml before a volume is attached.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub volume: String,
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encrypted: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_gb: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extend_threshold_percent: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub add_size_gb: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_gb_limit: Option<i64>,
}

/// A service: what the proxy routes to this Machine.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = api::MachineService)]
pub struct MachineService {
    /// `tcp` or `udp`.
    #[serde(default)]
    pub protocol: String,
    #[serde(default)]
    pub internal_port: i64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<MachinePort>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<ServiceConcurrency>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<MachineCheck>,
    /// `false`/`true` for off/stop, or `"suspend"`; input also accepts
    /// `"off"` and `"stop"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<bool>)]
    pub autostop: Option<AutostopMode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autostart: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_machines_running: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force_instance_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force_instance_description: Option<String>,
}

/// What the proxy does with idle Machines of a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutostopMode {
    Off,
    Stop,
    Suspend,
}

impl Serialize for AutostopMode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            AutostopMode::Off => s.serialize_bool(false),
            AutostopMode::Stop => s.serialize_bool(true),
            AutostopMode::Suspend => s.serialize_str("suspend"),
        }
    }
}

impl<'de> Deserialize<'de> for AutostopMode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Bool(bool),
            Str(String),
        }
        match Raw::deserialize(d)? {
            Raw::Bool(false) => Ok(AutostopMode::Off),
            Raw::Bool(true) => Ok(AutostopMode::Stop),
            Raw::Str(s) => match s.as_str() {
                "off" | "false" => Ok(AutostopMode::Off),
                "stop" | "true" => Ok(AutostopMode::Stop),
                "suspend" => Ok(AutostopMode::Suspend),
                other => Err(serde::de::Error::custom(format!(
                    "autostop must be \"off\", \"stop\", \"suspend\" or a boolean, not {other:?}"
                ))),
            },
        }
    }
}

/// One public port of a service.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = api::MachinePort)]
pub struct MachinePort {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_port: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_port: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub handlers: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force_https: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_options: Option<TlsOptions>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_options: Option<HttpOptions>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_proto_options: Option<ProxyProtoOptions>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = api::TLSOptions)]
pub struct TlsOptions {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alpn: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub versions: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_self_signed: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = api::HTTPOptions)]
pub struct HttpOptions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compress: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub h2_backend: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_timeout: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers_read_timeout: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<HttpResponseOptions>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replay_cache: Vec<ReplayCache>,
}

/// A rule sending requests matching a path prefix back to the Machine that
/// served an earlier one (by cookie or header).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = api::ReplayCache)]
pub struct ReplayCache {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_prefix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_seconds: Option<i64>,
    /// `cookie` or `header`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Cookie or header name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_bypass: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = api::HTTPResponseOptions)]
pub struct HttpResponseOptions {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schema(value_type = Object)]
    pub headers: BTreeMap<String, serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pristine: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = api::ProxyProtoOptions)]
pub struct ProxyProtoOptions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// How the proxy limits load on one Machine.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = api::MachineServiceConcurrency)]
pub struct ServiceConcurrency {
    /// `connections` (default) or `requests`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub soft_limit: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hard_limit: Option<i64>,
}

/// A health check: top-level (machine check) or per service.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = api::MachineCheck)]
pub struct MachineCheck {
    /// `tcp` or `http`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub check_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<GoDuration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<GoDuration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grace_period: Option<GoDuration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// `http` or `https`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_skip_verify: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_server_name: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<MachineHttpHeader>,
    /// Top-level checks only: `informational` (default) or `readiness`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = api::MachineHTTPHeader)]
pub struct MachineHttpHeader {
    pub name: String,
    #[serde(default)]
    pub values: Vec<String>,
}

/// What happens when the main process exits.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = api::MachineRestart)]
pub struct MachineRestart {
    /// `no`, `always` or `on-failure` (the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<RestartPolicy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_retries: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum RestartPolicy {
    #[serde(rename = "no")]
    No,
    #[serde(rename = "always")]
    Always,
    #[serde(rename = "on-failure")]
    OnFailure,
}

/// How the Machine is asked to stop: a signal, then SIGKILL after `timeout`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = api::StopConfig)]
pub struct StopConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<GoDuration>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = api::MachineProcess)]
pub struct MachineProcess {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exec: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entrypoint: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cmd: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// App secrets exposed to this process, each under an env var.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<MachineSecret>,
    /// Do not expose the app's secrets to this process.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore_app_secrets: Option<bool>,
    /// Env vars filled from facts about the Machine.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env_from: Vec<EnvFrom>,
}

/// An app secret exposed as an env var.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = api::MachineSecret)]
pub struct MachineSecret {
    pub env_var: String,
    /// Secret name; defaults to `env_var`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// An env var filled from a fact about the Machine.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = api::EnvFrom)]
pub struct EnvFrom {
    pub env_var: String,
    /// `id`, `version`, `app_name`, `private_ip`, `region` or `image`.
    pub field_ref: String,
}

/// A file written into the Machine before it boots.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = api::File)]
pub struct MachineFile {
    pub guest_path: String,
    /// Base64 content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<u32>,
    /// Content taken from the image's config, carried through unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub image_config: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = api::DNSConfig)]
pub struct DnsConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip_registration: Option<bool>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nameservers: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub searches: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname_fqdn: Option<String>,
    /// resolv.conf options.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<DnsOption>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns_forward_rules: Vec<DnsForwardRule>,
}

/// One resolv.conf option (`ndots:2` is `{name: "ndots", value: "2"}`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = api::DNSOption)]
pub struct DnsOption {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// Names under `basename` resolved by the server at `addr`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = api::dnsForwardRule)]
pub struct DnsForwardRule {
    pub basename: String,
    pub addr: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = api::MachineMetrics)]
pub struct MachineMetrics {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Scrape over HTTPS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub https: Option<bool>,
}

/// Static files served by the proxy from a directory of the Machine (or a bucket).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = api::Static)]
pub struct Static {
    #[serde(default)]
    pub guest_path: String,
    #[serde(default)]
    pub url_prefix: String,
    /// Serve from this Tigris bucket instead of the Machine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tigris_bucket: Option<String>,
    /// Document served for a directory path (`index.html`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index_document: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A config using every field hangar-config reads or passes through survives a
    /// deserialize/serialize round trip unchanged, durations as Go strings.
    #[test]
    fn full_config_round_trips() {
        let json = serde_json::json!({
            "image": "registry/app:v1",
            "init": {"cmd": ["bin/app"], "tty": true},
            "guest": {
                "cpu_kind": "performance", "cpus": 8, "memory_mb": 32768, "max_memory_mb": 65536,
                "gpus": 1, "gpu_kind": "a10", "persist_rootfs": "always"
            },
            "mounts": [{"path": "/data", "name": "data", "extend_threshold_percent": 80}],
            "services": [{
                "protocol": "tcp", "internal_port": 8080, "autostop": "suspend",
                "ports": [{"port": 443, "handlers": ["tls", "http"], "http_options": {
                    "replay_cache": [{"path_prefix": "/", "ttl_seconds": 300, "type": "cookie",
                                      "name": "session", "allow_bypass": true}]
                }}],
                "checks": [{"type": "http", "interval": "10s", "timeout": "1m30s", "path": "/"}]
            }],
            "checks": {"ready": {"type": "tcp", "port": 8080, "grace_period": "500ms",
                                 "kind": "readiness"}},
            "metrics": {"port": 9091, "path": "/metrics", "https": true},
            "statics": [{"guest_path": "/app/public", "url_prefix": "/",
                         "tigris_bucket": "assets", "index_document": "index.html"}],
            "files": [{"guest_path": "/etc/motd", "image_config": {"path": "/motd"}}],
            "dns": {"skip_registration": true, "options": [{"name": "ndots", "value": "2"}],
                    "dns_forward_rules": [{"basename": "corp", "addr": "10.0.0.1"}],
                    "hostname_fqdn": "app.internal"},
            "processes": [{"cmd": ["x"], "secrets": [{"env_var": "TOKEN", "name": "API_TOKEN"}],
                           "ignore_app_secrets": true,
                           "env_from": [{"env_var": "ID", "field_ref": "id"}]}],
            "rootfs": {"persist": "restart", "size_gb": 10},
            "containers": [{"name": "sidecar", "image": "nginx"}],
            "volumes": [{"name": "shared", "temp_dir": {}}],
            "stop_config": {"signal": "SIGINT", "timeout": "2m0s"}
        });
        let config: MachineConfig = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(serde_json::to_value(&config).unwrap(), json);
    }

    /// Unset parts are omitted, not written as empty strings or objects.
    #[test]
    fn empty_parts_are_omitted() {
        let config = MachineConfig {
            mounts: vec![MachineMount {
                path: "/data".into(),
                ..MachineMount::default()
            }],
            ..MachineConfig::default()
        };
        assert_eq!(
            serde_json::to_value(&config).unwrap(),
            serde_json::json!({"mounts": [{"path": "/data"}]})
        );
    }
}
