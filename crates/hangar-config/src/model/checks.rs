//! `[checks.<name>]`: top-level Machine health checks.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::units::GoDuration;

/// A named top-level check; becomes `checks.<name>` of each targeted Machine.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct TopLevelCheck {
    /// Port to probe; defaults to `http_service.internal_port`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<i64>,
    /// `http` or `tcp` (required).
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
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
    /// Process groups this check applies to (empty = default group).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub processes: Vec<String>,
}
