//! fly.toml → Machine config for one process group (reference §2.1).

use std::collections::BTreeMap;
use std::path::PathBuf;

use hangar_types::{
    AutostopMode, HttpOptions, HttpResponseOptions, MachineCheck, MachineConfig, MachineFile,
    MachineHttpHeader, MachineInit, MachineMetrics, MachineMount, MachinePort, MachineRestart,
    MachineService, ProxyProtoOptions, ReplayCache, ServiceConcurrency, Static, StopConfig,
    TlsOptions,
};

use super::guest::{resolve_compute, GuestError};
use super::{
    METADATA_PLATFORM_VERSION, METADATA_PROCESS_GROUP, METADATA_TOOL_VERSION, PLATFORM_VERSION_V2,
};
use crate::groups::Flattened;
use crate::model::{
    self, AutoStop, Concurrency, Config, File, HttpService, RestartPolicy, Service,
    ServiceHttpCheck, ServiceTcpCheck, TopLevelCheck,
};
use crate::shell::{self, ShellSplitError};
use crate::units::{parse_decimal_size_gb, GoDuration};

/// Value written to the `fly_flyctl_version` metadata key.
pub const TOOL_VERSION: &str = concat!("hangar-", env!("CARGO_PKG_VERSION"));

/// Why a config cannot be turned into a Machine config.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    /// The config failed to normalize at load time.
    #[error("the configuration could not be read: {0}; fix it and run `hangar config validate`")]
    Unparsed(String),
    /// The group is not defined in `[processes]`.
    #[error("process group '{group}' is not defined; known groups are {known}")]
    UnknownGroup {
        /// Requested group.
        group: String,
        /// Known groups, formatted.
        known: String,
    },
    /// A top-level check has no port and nothing to default it from.
    #[error("Check '{check}' for process group '{group}' has no port set and the group has no http_service to take it from; set `port` in [checks.{check}]")]
    CheckWithoutPort {
        /// Check name.
        check: String,
        /// Group.
        group: String,
    },
    /// The `[[vm]]` of the group is invalid.
    #[error("[[vm]] for process group '{group}': {source}")]
    Guest {
        /// Group.
        group: String,
        /// Cause.
        #[source]
        source: GuestError,
    },
    /// A command line cannot be split.
    #[error("{what} {command:?} cannot be split into words: {source}; fix the quoting")]
    Command {
        /// Which command.
        what: String,
        /// The text.
        command: String,
        /// Cause.
        #[source]
        source: ShellSplitError,
    },
    /// `machine_config` is not a JSON object or readable file.
    #[error("machine_config is not usable: {0}; give inline JSON of a Machine config or the path of a JSON file")]
    MachineConfig(String),
    /// A `[[files]]` local file cannot be read.
    #[error("[[files]] local_path {}: {source}; check the path (relative paths are resolved from the fly.toml directory)", path.display())]
    LocalFile {
        /// Resolved path.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// A `[[restart]]` policy is not accepted.
    #[error("invalid restart policy: {0}; use one of always, never, on-failure")]
    RestartPolicy(String),
}

/// Splits a command, naming it in the error.
pub(crate) fn split_command(what: &str, command: &str) -> Result<Vec<String>, ConvertError> {
    shell::split(command).map_err(|source| ConvertError::Command {
        what: what.to_string(),
        command: command.to_string(),
        source,
    })
}

impl Config {
    /// The Machine config of `group` ("" = default group). With `existing`, starts from that
    /// config: fly.toml-managed fields are replaced, the rest (schedule, auto_destroy, dns,
    /// processes, standbys, other metadata, guest when there is no `[[vm]]`, image) are kept.
    pub fn to_machine_config(
        &self,
        group: &str,
        existing: Option<&MachineConfig>,
    ) -> Result<MachineConfig, ConvertError> {
        if let Some(error) = &self.parse_error {
            return Err(ConvertError::Unparsed(error.clone()));
        }
        let defined = if self.processes.is_empty() {
            group == crate::DEFAULT_GROUP
        } else {
            self.processes.contains_key(group)
        };
        if !group.is_empty() && !defined {
            return Err(ConvertError::UnknownGroup {
                group: group.to_string(),
                known: self.format_process_names(),
            });
        }
        let flat = self.flatten(group);
        let mut config = existing.cloned().unwrap_or_default();
        self.apply_machine_config_overlay(&mut config)?;

        config.metrics = flat.metrics.map(|(_, m)| MachineMetrics {
            port: Some(m.port.unwrap_or_default()),
            path: Some(m.path.clone().unwrap_or_default()),
            https: m.https.filter(|https| *https),
        });

        let experimental = self.experimental.as_ref();
        let process_command = self
            .processes
            .get(&flat.group)
            .filter(|command| !command.trim().is_empty());
        let mut init = config.init.take().unwrap_or_default();
        init.cmd = match process_command {
            Some(command) => split_command(&format!("[processes] {}", flat.group), command)?,
            None => experimental.and_then(|e| e.cmd.clone()).unwrap_or_default(),
        };
        init.entrypoint = experimental
            .and_then(|e| e.entrypoint.clone())
            .unwrap_or_default();
        init.exec = experimental
            .and_then(|e| e.exec.clone())
            .unwrap_or_default();
        init.swap_size_mb = self.swap_size_mb;
        config.init = non_empty_init(init);

        config
            .metadata
            .insert(METADATA_TOOL_VERSION.into(), TOOL_VERSION.into());
        config
            .metadata
            .insert(METADATA_PLATFORM_VERSION.into(), PLATFORM_VERSION_V2.into());
        config
            .metadata
            .insert(METADATA_PROCESS_GROUP.into(), flat.group.clone());

        config.services = self.machine_services(&flat);
        config.checks = self.machine_checks_for(&flat)?;
        config.env = self.machine_env(&flat.group);
        config.statics = self.machine_statics();
        config.mounts = flat.mounts.iter().map(|(_, m)| machine_mount(m)).collect();
        config.stop_config = self.stop_config();
        config.files = self.machine_files(flat.files.iter().map(|(_, f)| *f))?;
        if let Some((_, compute)) = flat.vm {
            config.guest = Some(resolve_compute(compute, flat.host_dedication_id).map_err(
                |source| ConvertError::Guest {
                    group: flat.group.clone(),
                    source,
                },
            )?);
        }
        config.restart = match flat.restart {
            Some((_, restart)) => {
                Some(machine_restart(restart.policy.as_deref(), restart.retries)?)
            }
            None => None,
        };
        Ok(config)
    }

    /// `[env]` plus `FLY_PROCESS_GROUP` and `PRIMARY_REGION`.
    pub(crate) fn machine_env(&self, group: &str) -> BTreeMap<String, String> {
        let mut env = self.env.clone();
        env.insert("FLY_PROCESS_GROUP".into(), group.into());
        if let Some(region) = self.primary_region.as_ref().filter(|r| !r.is_empty()) {
            env.insert("PRIMARY_REGION".into(), region.clone());
        }
        env
    }

    /// `stop_config` from `kill_timeout`/`kill_signal`, or `None` when neither is set.
    pub(crate) fn stop_config(&self) -> Option<StopConfig> {
        let signal = self.kill_signal.clone().filter(|s| !s.is_empty());
        (self.kill_timeout.is_some() || signal.is_some()).then_some(StopConfig {
            timeout: api_duration(self.kill_timeout),
            signal,
        })
    }

    fn machine_statics(&self) -> Vec<Static> {
        self.statics
            .iter()
            .map(|s| Static {
                guest_path: s.guest_path.clone().unwrap_or_default(),
                url_prefix: s.url_prefix.clone().unwrap_or_default(),
                tigris_bucket: s.tigris_bucket.clone(),
                index_document: s.index_document.clone(),
            })
            .collect()
    }

    /// `[[files]]` as Machine files; `local_path` is read (relative to the fly.toml directory)
    /// and base64-encoded.
    pub(crate) fn machine_files<'a>(
        &self,
        files: impl Iterator<Item = &'a File>,
    ) -> Result<Vec<MachineFile>, ConvertError> {
        let mut out: Vec<MachineFile> = Vec::new();
        for file in files {
            let guest_path = file.guest_path.clone().unwrap_or_default();
            let mut machine_file = MachineFile {
                guest_path: guest_path.clone(),
                ..MachineFile::default()
            };
            if let Some(raw) = file.raw_value.as_ref().filter(|v| !v.is_empty()) {
                machine_file.raw_value = Some(raw.clone());
            } else if let Some(secret) = file.secret_name.as_ref().filter(|v| !v.is_empty()) {
                machine_file.secret_name = Some(secret.clone());
            } else if let Some(local) = file.local_path.as_ref().filter(|v| !v.is_empty()) {
                let mut path = PathBuf::from(local);
                if path.is_relative() {
                    if let Some(dir) = self.source.dir() {
                        path = dir.join(path);
                    }
                }
                let bytes = read_bounded(&path)
                    .map_err(|source| ConvertError::LocalFile { path, source })?;
                machine_file.raw_value = Some(base64_encode(&bytes));
            }
            match out.iter_mut().find(|f| f.guest_path == guest_path) {
                Some(existing) => *existing = machine_file,
                None => out.push(machine_file),
            }
        }
        Ok(out)
    }

    /// Merges `machine_config` (inline JSON or a file; `experimental.machine_config` wins) into
    /// `config`: objects are merged key by key, everything else replaced.
    fn apply_machine_config_overlay(&self, config: &mut MachineConfig) -> Result<(), ConvertError> {
        let source = self
            .experimental
            .as_ref()
            .and_then(|e| e.machine_config.as_deref())
            .or(self.machine_config.as_deref())
            .filter(|s| !s.trim().is_empty());
        let Some(source) = source else {
            return Ok(());
        };
        let text = if source.trim_start().starts_with('{') {
            source.to_string()
        } else {
            let mut path = PathBuf::from(source);
            if path.is_relative() {
                if let Some(dir) = self.source.dir() {
                    path = dir.join(path);
                }
            }
            read_bounded(&path)
                .and_then(|bytes| String::from_utf8(bytes).map_err(std::io::Error::other))
                .map_err(|err| {
                    ConvertError::MachineConfig(format!("cannot read {}: {err}", path.display()))
                })?
        };
        let overlay: serde_json::Value = serde_json::from_str(&text)
            .map_err(|err| ConvertError::MachineConfig(err.to_string()))?;
        if !overlay.is_object() {
            return Err(ConvertError::MachineConfig(
                "it is not a JSON object".into(),
            ));
        }
        let mut base = serde_json::to_value(&*config)
            .map_err(|err| ConvertError::MachineConfig(err.to_string()))?;
        merge_json(&mut base, overlay);
        *config = serde_json::from_value(base)
            .map_err(|err| ConvertError::MachineConfig(err.to_string()))?;
        Ok(())
    }

    fn machine_services(&self, flat: &Flattened<'_>) -> Vec<MachineService> {
        let mut services = Vec::new();
        if let Some(http) = flat.http_service {
            services.push(self.apply_service_defaults(http_service_to_machine(http)));
        }
        for (_, service) in &flat.services {
            services.push(self.apply_service_defaults(service_to_machine(service)));
        }
        services
    }

    /// Fills autostop/autostart/min_machines_running from the `[auto_stop_machines]` and
    /// `[auto_start_machines]` extension tables where the service sets nothing.
    fn apply_service_defaults(&self, mut service: MachineService) -> MachineService {
        if let Some(defaults) = &self.auto_stop_machines {
            service.autostop = service.autostop.or(defaults.enabled.map(api_autostop));
            service.min_machines_running = service
                .min_machines_running
                .or(defaults.min_machines_running);
        }
        if let Some(defaults) = &self.auto_start_machines {
            service.autostart = service.autostart.or(defaults.enabled);
        }
        service
    }

    fn machine_checks_for(
        &self,
        flat: &Flattened<'_>,
    ) -> Result<BTreeMap<String, MachineCheck>, ConvertError> {
        let mut checks = BTreeMap::new();
        for (name, check) in &flat.checks {
            let port = match check.port.filter(|p| *p != 0) {
                Some(port) => port,
                None => match flat.http_service.and_then(|h| h.internal_port) {
                    Some(port) => port,
                    None => {
                        return Err(ConvertError::CheckWithoutPort {
                            check: name.to_string(),
                            group: flat.group.clone(),
                        })
                    }
                },
            };
            checks.insert(name.to_string(), top_level_check_to_machine(check, port));
        }
        Ok(checks)
    }
}

/// `init`, or `None` when it overrides nothing (so no `"init": {}` is written).
pub(crate) fn non_empty_init(init: MachineInit) -> Option<MachineInit> {
    (init != MachineInit::default()).then_some(init)
}

/// A fly.toml duration as the API carries it. The API has no negative durations: a negative
/// one becomes zero.
pub(crate) fn api_duration(duration: Option<GoDuration>) -> Option<hangar_types::GoDuration> {
    duration.map(|d| hangar_types::GoDuration(d.to_std()))
}

/// fly.toml's autostop setting as the API encodes it (`false`, `true` or `"suspend"`).
fn api_autostop(autostop: AutoStop) -> AutostopMode {
    match autostop {
        AutoStop::Off => AutostopMode::Off,
        AutoStop::Stop => AutostopMode::Stop,
        AutoStop::Suspend => AutostopMode::Suspend,
    }
}

fn api_tls_options(tls: &model::TlsOptions) -> TlsOptions {
    TlsOptions {
        alpn: tls.alpn.clone(),
        versions: tls.versions.clone(),
        default_self_signed: tls.default_self_signed,
    }
}

fn api_http_options(http: &model::HttpOptions) -> HttpOptions {
    HttpOptions {
        compress: http.compress,
        h2_backend: http.h2_backend,
        idle_timeout: http.idle_timeout,
        headers_read_timeout: http.headers_read_timeout,
        response: http.response.as_ref().map(|response| HttpResponseOptions {
            headers: response
                .headers
                .iter()
                .map(|(name, value)| (name.clone(), api_header_value(value)))
                .collect(),
            pristine: response.pristine,
        }),
        replay_cache: http
            .replay_cache
            .iter()
            .map(|cache| ReplayCache {
                path_prefix: cache.path_prefix.clone(),
                ttl_seconds: cache.ttl_seconds,
                kind: cache.kind.clone(),
                name: cache.name.clone(),
                allow_bypass: cache.allow_bypass,
            })
            .collect(),
    }
}

/// A response header value: `false` removes the header, a string or list sets it.
fn api_header_value(value: &model::HeaderValue) -> serde_json::Value {
    match value {
        model::HeaderValue::Flag(flag) => serde_json::Value::Bool(*flag),
        model::HeaderValue::Text(text) => serde_json::Value::String(text.clone()),
        model::HeaderValue::List(list) => serde_json::Value::Array(
            list.iter()
                .map(|item| serde_json::Value::String(item.clone()))
                .collect(),
        ),
    }
}

fn api_proxy_proto_options(options: &model::ProxyProtoOptions) -> ProxyProtoOptions {
    ProxyProtoOptions {
        version: options.version.clone(),
    }
}

/// Largest local file read for `[[files]]` or `machine_config`.
pub const MAX_LOCAL_FILE_BYTES: u64 = 8 * 1024 * 1024;

/// Reads a regular file of at most [`MAX_LOCAL_FILE_BYTES`] (devices and pipes are refused, so a
/// config cannot make conversion read forever).
fn read_bounded(path: &std::path::Path) -> std::io::Result<Vec<u8>> {
    let metadata = std::fs::metadata(path)?;
    if !metadata.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    if metadata.len() > MAX_LOCAL_FILE_BYTES {
        return Err(std::io::Error::other(format!(
            "{} bytes is more than the {MAX_LOCAL_FILE_BYTES}-byte limit",
            metadata.len()
        )));
    }
    std::fs::read(path)
}

/// Deep-merges `overlay` into `base` (objects key by key; other values replaced).
fn merge_json(base: &mut serde_json::Value, overlay: serde_json::Value) {
    match (base, overlay) {
        (serde_json::Value::Object(base), serde_json::Value::Object(overlay)) => {
            for (key, value) in overlay {
                match base.get_mut(&key) {
                    Some(existing) if existing.is_object() && value.is_object() => {
                        merge_json(existing, value)
                    }
                    _ => {
                        base.insert(key, value);
                    }
                }
            }
        }
        (base, overlay) => *base = overlay,
    }
}

/// `[http_service]` → a TCP service on 80 (http, force_https) and 443 (tls+http).
fn http_service_to_machine(http: &HttpService) -> MachineService {
    let http_options = http.http_options.as_ref().map(api_http_options);
    MachineService {
        protocol: "tcp".into(),
        internal_port: http.internal_port.unwrap_or_default(),
        ports: vec![
            MachinePort {
                port: Some(80),
                handlers: vec!["http".into()],
                force_https: http.force_https.filter(|f| *f),
                http_options: http_options.clone(),
                ..MachinePort::default()
            },
            MachinePort {
                port: Some(443),
                handlers: vec!["http".into(), "tls".into()],
                http_options,
                tls_options: http.tls_options.as_ref().map(api_tls_options),
                ..MachinePort::default()
            },
        ],
        concurrency: http.concurrency.as_ref().map(machine_concurrency),
        checks: http.checks.iter().map(http_check_to_machine).collect(),
        autostop: http.auto_stop_machines.map(api_autostop),
        autostart: http.auto_start_machines,
        min_machines_running: http.min_machines_running,
        ..MachineService::default()
    }
}

fn service_to_machine(service: &Service) -> MachineService {
    let mut checks: Vec<MachineCheck> = service
        .tcp_checks
        .iter()
        .map(tcp_check_to_machine)
        .collect();
    checks.extend(service.http_checks.iter().map(http_check_to_machine));
    MachineService {
        protocol: service.protocol.clone().unwrap_or_else(|| "tcp".into()),
        internal_port: service.internal_port.unwrap_or_default(),
        ports: service
            .ports
            .iter()
            .map(|p| MachinePort {
                port: p.port,
                start_port: p.start_port,
                end_port: p.end_port,
                handlers: p.handlers.clone(),
                force_https: p.force_https.filter(|f| *f),
                tls_options: p.tls_options.as_ref().map(api_tls_options),
                http_options: p.http_options.as_ref().map(api_http_options),
                proxy_proto_options: p.proxy_proto_options.as_ref().map(api_proxy_proto_options),
            })
            .collect(),
        concurrency: service.concurrency.as_ref().map(machine_concurrency),
        checks,
        autostop: service.auto_stop_machines.map(api_autostop),
        autostart: service.auto_start_machines,
        min_machines_running: service.min_machines_running,
        ..MachineService::default()
    }
}

fn machine_concurrency(concurrency: &Concurrency) -> ServiceConcurrency {
    ServiceConcurrency {
        kind: concurrency.kind.clone().filter(|kind| !kind.is_empty()),
        hard_limit: concurrency.hard_limit,
        soft_limit: concurrency.soft_limit,
    }
}

fn headers_to_machine(headers: &BTreeMap<String, String>) -> Vec<MachineHttpHeader> {
    headers
        .iter()
        .map(|(name, value)| MachineHttpHeader {
            name: name.clone(),
            values: vec![value.clone()],
        })
        .collect()
}

fn tcp_check_to_machine(check: &ServiceTcpCheck) -> MachineCheck {
    MachineCheck {
        check_type: Some("tcp".into()),
        interval: api_duration(check.interval),
        timeout: api_duration(check.timeout),
        grace_period: api_duration(check.grace_period),
        ..MachineCheck::default()
    }
}

fn http_check_to_machine(check: &ServiceHttpCheck) -> MachineCheck {
    MachineCheck {
        check_type: Some("http".into()),
        port: None,
        interval: api_duration(check.interval),
        timeout: api_duration(check.timeout),
        grace_period: api_duration(check.grace_period),
        method: check.method.as_ref().map(|m| m.to_uppercase()),
        path: check.path.clone(),
        protocol: check.protocol.clone(),
        tls_skip_verify: check.tls_skip_verify,
        tls_server_name: check.tls_server_name.clone(),
        headers: headers_to_machine(&check.headers),
        kind: None,
    }
}

fn top_level_check_to_machine(check: &TopLevelCheck, port: i64) -> MachineCheck {
    MachineCheck {
        check_type: Some(check.kind.clone().unwrap_or_default()),
        port: Some(port),
        interval: api_duration(check.interval),
        timeout: api_duration(check.timeout),
        grace_period: api_duration(check.grace_period),
        method: check.method.as_ref().map(|m| m.to_uppercase()),
        path: check.path.clone(),
        protocol: check.protocol.clone(),
        tls_skip_verify: check.tls_skip_verify,
        tls_server_name: check.tls_server_name.clone(),
        headers: headers_to_machine(&check.headers),
        kind: None,
    }
}

fn machine_mount(mount: &crate::model::Mount) -> MachineMount {
    let gb = |size: &Option<String>| {
        size.as_deref()
            .and_then(|s| parse_decimal_size_gb(s).ok())
            .filter(|v| *v > 0)
    };
    MachineMount {
        path: mount.destination.clone().unwrap_or_default(),
        name: mount.source.clone().filter(|name| !name.is_empty()),
        extend_threshold_percent: mount.auto_extend_size_threshold.filter(|t| *t != 0),
        add_size_gb: gb(&mount.auto_extend_size_increment),
        size_gb_limit: gb(&mount.auto_extend_size_limit),
        ..MachineMount::default()
    }
}

/// `[[restart]]` policy → API restart.
pub(crate) fn machine_restart(
    policy: Option<&str>,
    retries: Option<i64>,
) -> Result<MachineRestart, ConvertError> {
    let policy = policy.unwrap_or("on-failure");
    let parsed = RestartPolicy::parse(policy)
        .ok_or_else(|| ConvertError::RestartPolicy(policy.to_string()))?;
    Ok(MachineRestart {
        policy: Some(api_restart_policy(parsed)),
        max_retries: retries,
    })
}

/// fly.toml's restart policy as the API names it (`never` is `no`).
pub(crate) fn api_restart_policy(policy: RestartPolicy) -> hangar_types::RestartPolicy {
    match policy {
        RestartPolicy::Always => hangar_types::RestartPolicy::Always,
        RestartPolicy::Never => hangar_types::RestartPolicy::No,
        RestartPolicy::OnFailure => hangar_types::RestartPolicy::OnFailure,
    }
}

/// Standard base64 with padding.
fn base64_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::units::GoDuration;

    /// fly.toml durations are written in the API exactly as flyctl writes them.
    #[test]
    fn api_durations_format_like_fly_toml_durations() {
        for text in [
            "0s",
            "1ns",
            "999ns",
            "1.5us",
            "250ms",
            "1.001ms",
            "1s",
            "10s",
            "1.5s",
            "59.999999999s",
            "1m",
            "3m",
            "1m21s",
            "1h",
            "2h45m",
            "26h3m4.000000005s",
        ] {
            let duration = GoDuration::parse(text).unwrap();
            let api = super::api_duration(Some(duration)).unwrap();
            assert_eq!(
                serde_json::to_value(api).unwrap(),
                serde_json::to_value(duration).unwrap(),
                "{text}"
            );
        }
    }

    #[test]
    fn base64_matches_reference_vectors() {
        for (input, expected) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("hello world\n", "aGVsbG8gd29ybGQK"),
        ] {
            assert_eq!(super::base64_encode(input.as_bytes()), expected);
        }
    }
}
