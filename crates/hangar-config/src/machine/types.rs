//! Serde model of the Machines API `MachineConfig` and its parts.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize, Serializer};

use crate::model::{AutoStop, HttpOptions, ProxyProtoOptions, TlsOptions};
use crate::units::GoDuration;

/// A Machine's configuration.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct MachineConfig {
    /// Environment variables.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// Process overrides.
    #[serde(default, skip_serializing_if = "MachineInit::is_empty")]
    pub init: MachineInit,
    /// CPU, memory and GPU.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guest: Option<MachineGuest>,
    /// Metadata (`fly_process_group`, …).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
    /// Volume mounts (at most one).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mounts: Vec<MachineMount>,
    /// Proxy services.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<MachineService>,
    /// Prometheus target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<MachineMetrics>,
    /// Named health checks.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub checks: BTreeMap<String, MachineHealthCheck>,
    /// Restart policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart: Option<MachineRestart>,
    /// Destroy the Machine when it exits (with policy `no`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub auto_destroy: bool,
    /// DNS settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns: Option<DnsConfig>,
    /// Image reference.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub image: String,
    /// `hourly`, `daily`, `weekly` or `monthly`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    /// Files written into the guest.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<MachineFile>,
    /// Static file mappings.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub statics: Vec<MachineStatic>,
    /// Stop signal and timeout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_config: Option<StopConfig>,
    /// Machines this one stands by for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub standbys: Vec<String>,
    /// Fields this model does not interpret (`processes`, `containers`, `rootfs`, …), kept as-is.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

fn is_false(value: &bool) -> bool {
    !*value
}

/// `init`: process overrides.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct MachineInit {
    /// Replaces ENTRYPOINT and CMD.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec: Option<Vec<String>>,
    /// Replaces ENTRYPOINT.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    /// Replaces CMD.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmd: Option<Vec<String>>,
    /// Allocate a TTY.
    #[serde(default, skip_serializing_if = "is_false")]
    pub tty: bool,
    /// Swap in MB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub swap_size_mb: Option<i64>,
    /// Kernel arguments.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kernel_args: Vec<String>,
}

impl MachineInit {
    /// Whether nothing is overridden.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// `guest`: resources.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct MachineGuest {
    /// `shared` or `performance`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cpu_kind: String,
    /// CPUs.
    #[serde(default)]
    pub cpus: i64,
    /// Memory in MB.
    #[serde(default)]
    pub memory_mb: i64,
    /// Memory ceiling in MB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_memory_mb: Option<i64>,
    /// GPUs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpus: Option<i64>,
    /// GPU model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu_kind: Option<String>,
    /// Dedicated-host group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_dedication_id: Option<String>,
    /// Kernel arguments.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kernel_args: Vec<String>,
    /// Root filesystem persistence (deprecated in favour of `rootfs.persist`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persist_rootfs: Option<String>,
}

/// A volume mount.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct MachineMount {
    /// Volume id (filled in at deploy time).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub volume: String,
    /// Mount path.
    #[serde(default)]
    pub path: String,
    /// Volume name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Encrypted volume.
    #[serde(default, skip_serializing_if = "is_false")]
    pub encrypted: bool,
    /// Volume size in GB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_gb: Option<i64>,
    /// Usage percentage that triggers extension.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extend_threshold_percent: Option<i64>,
    /// GB added per extension.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub add_size_gb: Option<i64>,
    /// Largest size reached by extension.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_gb_limit: Option<i64>,
}

/// A proxy service.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct MachineService {
    /// `tcp` or `udp`.
    #[serde(default)]
    pub protocol: String,
    /// Port the app listens on.
    #[serde(default)]
    pub internal_port: i64,
    /// Public ports.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<MachinePort>,
    /// Concurrency limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<MachineServiceConcurrency>,
    /// Service checks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<MachineServiceCheck>,
    /// Autostop: serialized as `false`/`true` for off/stop and `"suspend"`, as the API answers.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "serialize_autostop"
    )]
    pub autostop: Option<AutoStop>,
    /// Autostart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autostart: Option<bool>,
    /// Machines kept running in the primary region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_machines_running: Option<i64>,
}

fn serialize_autostop<S: Serializer>(
    value: &Option<AutoStop>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match value {
        Some(AutoStop::Off) => serializer.serialize_bool(false),
        Some(AutoStop::Stop) => serializer.serialize_bool(true),
        Some(AutoStop::Suspend) => serializer.serialize_str("suspend"),
        None => serializer.serialize_none(),
    }
}

/// Service concurrency.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct MachineServiceConcurrency {
    /// `connections` or `requests`.
    #[serde(rename = "type", default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// Hard limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hard_limit: Option<i64>,
    /// Soft limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub soft_limit: Option<i64>,
}

/// A public port.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct MachinePort {
    /// Port number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i64>,
    /// First port of a range.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_port: Option<i64>,
    /// Last port of a range.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_port: Option<i64>,
    /// Handlers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub handlers: Vec<String>,
    /// Redirect to HTTPS.
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

/// A request header of an HTTP check.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct MachineCheckHeader {
    /// Header name.
    pub name: String,
    /// Values.
    pub values: Vec<String>,
}

/// A service check (no port: the service's internal port is probed).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct MachineServiceCheck {
    /// `tcp` or `http`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Port override.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i64>,
    /// Time between probes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<GoDuration>,
    /// Probe timeout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<GoDuration>,
    /// Delay before the first probe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grace_period: Option<GoDuration>,
    /// HTTP method.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// HTTP path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// `http` or `https`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// Skip TLS verification.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_skip_verify: Option<bool>,
    /// SNI name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_server_name: Option<String>,
    /// Request headers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<MachineCheckHeader>,
}

/// A top-level Machine check: a service check with a port and a kind.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct MachineHealthCheck {
    /// Check fields.
    #[serde(flatten)]
    pub check: MachineServiceCheck,
    /// `informational` (default) or `readiness`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

/// Restart policy.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct MachineRestart {
    /// `no`, `always` or `on-failure`.
    #[serde(default)]
    pub policy: String,
    /// Retries for `on-failure`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_retries: Option<i64>,
}

/// DNS settings; fields this model does not use are kept in `extra`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct DnsConfig {
    /// Do not register the Machine in internal DNS.
    #[serde(default, skip_serializing_if = "is_false")]
    pub skip_registration: bool,
    /// Nameservers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nameservers: Vec<String>,
    /// Other DNS fields (`searches`, `options`, …).
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

/// Prometheus target.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct MachineMetrics {
    /// Port.
    #[serde(default)]
    pub port: i64,
    /// Path.
    #[serde(default)]
    pub path: String,
    /// Use HTTPS.
    #[serde(default, skip_serializing_if = "is_false")]
    pub https: bool,
}

/// A file written into the guest. Only `guest_path` set means "remove a previously written file".
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct MachineFile {
    /// Path in the guest.
    pub guest_path: String,
    /// Base64 content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_value: Option<String>,
    /// Secret holding base64 content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_name: Option<String>,
    /// File mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<u32>,
}

/// A static files mapping.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct MachineStatic {
    /// Directory in the guest.
    #[serde(default)]
    pub guest_path: String,
    /// URL prefix.
    #[serde(default)]
    pub url_prefix: String,
    /// Tigris bucket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tigris_bucket: Option<String>,
    /// Index document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index_document: Option<String>,
}

/// Stop signal and timeout; both may be unset (`{}`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct StopConfig {
    /// Time to wait before killing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<GoDuration>,
    /// Signal name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<String>,
}
