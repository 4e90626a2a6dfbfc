//! The typed, normalized fly.toml model.
//!
//! Field names and shapes follow flyctl's JSON names, so `hangar config show --json` prints what
//! `fly config show` would. Every legacy shape has already been normalized away (see `patches`).

mod build;
mod checks;
mod compute;
mod deploy;
mod extensions;
mod sections;
mod services;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

pub use build::{Build, Compose};
pub use checks::TopLevelCheck;
pub use compute::Compute;
pub use deploy::{Deploy, DeployStrategy};
pub use extensions::{AutoStartDefaults, AutoStopDefaults, Regions};
pub use sections::{
    Attached, AttachedSecrets, Experimental, File, Metrics, Mount, Restart, RestartPolicy, Static,
};
pub use services::{
    AutoStop, Concurrency, HeaderValue, HttpOptions, HttpResponseOptions, HttpService,
    MachineCheck, Port, ProxyProtoOptions, ReplayCache, Service, ServiceHttpCheck, ServiceTcpCheck,
    TlsOptions,
};

use crate::units::GoDuration;

/// A whole fly.toml, normalized.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Config {
    /// App name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
    /// Region for new Machines and the release command; exported as `PRIMARY_REGION`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub primary_region: Option<String>,
    /// Signal sent to stop a Machine (`stop_config.signal`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kill_signal: Option<String>,
    /// Time to wait after `kill_signal` (`stop_config.timeout`); a bare number is seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kill_timeout: Option<GoDuration>,
    /// Swap size in MB (`init.swap_size_mb`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub swap_size_mb: Option<i64>,
    /// Command run by `console` in an ephemeral Machine.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub console_command: Option<String>,
    /// Dedicated-host group copied into `guest.host_dedication_id`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_dedication_id: Option<String>,
    /// Inline JSON or path of a base Machine config.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub machine_config: Option<String>,
    /// Container of `machine_config` that receives the built image.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    /// `[experimental]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub experimental: Option<Experimental>,
    /// `[build]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub build: Option<Build>,
    /// `[deploy]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deploy: Option<Deploy>,
    /// `[env]`, values stringified.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// `[processes]`: group name → command line.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub processes: BTreeMap<String, String>,
    /// `[[mounts]]`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mounts: Vec<Mount>,
    /// `[http_service]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_service: Option<HttpService>,
    /// `[[services]]`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<Service>,
    /// `[checks.<name>]`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub checks: BTreeMap<String, TopLevelCheck>,
    /// `[[files]]`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<File>,
    /// `[[machine_checks]]`: deploy-time test machines.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub machine_checks: Vec<MachineCheck>,
    /// `[[restart]]`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub restart: Vec<Restart>,
    /// `[[vm]]` (aliases `[vm]`, `[[compute]]`, `[[computes]]`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub vm: Vec<Compute>,
    /// `[[statics]]`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub statics: Vec<Static>,
    /// `[[metrics]]`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<Metrics>,
    /// Hangar extension: `[auto_stop_machines]` defaults for every service.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_stop_machines: Option<AutoStopDefaults>,
    /// Hangar extension: `[auto_start_machines]` defaults for every service.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_start_machines: Option<AutoStartDefaults>,
    /// Hangar extension: `[regions]` desired Machine counts per region.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub regions: Option<Regions>,
    /// Set when a legacy shape could not be normalized (flyctl's deferred "v2 unmarshal error"):
    /// the rest of the model is then empty except `app`, and validation reports this error.
    #[serde(skip)]
    pub parse_error: Option<String>,
    /// Where the config was read from; not part of the model's identity.
    #[serde(skip)]
    pub source: SourcePath,
}

/// The file a config was loaded from. Compares equal to every other `SourcePath`, so a config read
/// from two files with the same content is the same config.
#[derive(Debug, Clone, Default)]
pub struct SourcePath(pub Option<PathBuf>);

impl PartialEq for SourcePath {
    fn eq(&self, _other: &Self) -> bool {
        true
    }
}

impl SourcePath {
    /// Directory holding the config file, if known.
    pub fn dir(&self) -> Option<&Path> {
        self.0.as_deref().and_then(Path::parent)
    }
}

impl Config {
    /// The `[build]` section's image, if the app deploys a prebuilt image.
    pub fn image(&self) -> Option<&str> {
        self.build.as_ref().and_then(|b| b.image.as_deref())
    }

    /// The internal port of the app's main service: `http_service` first, then `services[0]`, else 0.
    pub fn internal_port(&self) -> i64 {
        if let Some(port) = self.http_service.as_ref().and_then(|h| h.internal_port) {
            return port;
        }
        self.services
            .first()
            .and_then(|s| s.internal_port)
            .unwrap_or(0)
    }

    /// The deploy strategy, defaulting to rolling.
    pub fn deploy_strategy(&self) -> Option<&str> {
        self.deploy.as_ref().and_then(|d| d.strategy.as_deref())
    }

    /// The release command, if any.
    pub fn release_command(&self) -> Option<&str> {
        self.deploy
            .as_ref()
            .and_then(|d| d.release_command.as_deref())
            .filter(|c| !c.is_empty())
    }

    /// The generic map form of the config (flyctl's `ToDefinition`): integers stay integers,
    /// durations are Go strings.
    pub fn to_definition(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}
