//! Decoding of the top level and every section except services.

use std::collections::BTreeMap;

use super::services::{decode_http_service, decode_machine_check, decode_service};
use super::{join, BareNumber, Decoder, Fields};
use crate::diagnostics::DiagnosticKind;
use crate::model::{
    Attached, AttachedSecrets, AutoStartDefaults, AutoStop, AutoStopDefaults, Build, Compose,
    Compute, Config, Deploy, Experimental, File, Metrics, Mount, Regions, Restart, Static,
    TopLevelCheck,
};
use crate::tree::{Node, Value};

/// Top-level keys flyctl silently drops (GraphQL-era); Hangar warns about them.
const OBSOLETE_KEYS: [&str; 2] = ["script_checks", "restart_limit"];

pub(crate) fn decode_config(d: &mut Decoder<'_>, root: &Node) -> Config {
    let mut config = Config::default();
    let Some(mut t) = d.table(root, "") else {
        return config;
    };
    config.app = t.string(d, "app");
    config.primary_region = t.string(d, "primary_region");
    config.kill_signal = t.string(d, "kill_signal");
    config.kill_timeout = t.duration(d, "kill_timeout", BareNumber::Seconds);
    config.swap_size_mb = t.int(d, "swap_size_mb");
    config.console_command = t.string(d, "console_command");
    config.host_dedication_id = t.string(d, "host_dedication_id");
    config.machine_config = t.string(d, "machine_config");
    config.container = t.string(d, "container");
    config.experimental = t.section(d, "experimental", decode_experimental);
    config.build = t.section(d, "build", decode_build);
    config.deploy = t.section(d, "deploy", decode_deploy);
    config.env = t.string_map(d, "env");
    config.processes = t.string_map(d, "processes");
    config.mounts = t.list(d, "mounts", decode_mount);
    config.http_service = t.section(d, "http_service", decode_http_service);
    config.services = t.list(d, "services", decode_service);
    config.checks = t
        .section(d, "checks", |d, node, path| {
            Some(decode_checks(d, node, path))
        })
        .unwrap_or_default();
    config.files = t.list(d, "files", decode_file);
    config.machine_checks = t.list(d, "machine_checks", decode_machine_check);
    config.restart = t.list(d, "restart", decode_restart);
    config.vm = t.list(d, "vm", decode_compute);
    config.statics = t.list(d, "statics", decode_static);
    config.metrics = t.list(d, "metrics", decode_metrics);
    config.auto_stop_machines = t.section(d, "auto_stop_machines", decode_auto_stop_defaults);
    config.auto_start_machines = t.section(d, "auto_start_machines", decode_auto_start_defaults);
    config.regions = t.section(d, "regions", decode_regions);
    for key in OBSOLETE_KEYS {
        if let Some((node, path)) = t.take(d, key) {
            d.warn(
                node,
                &path,
                DiagnosticKind::UnknownKey,
                format!("`{key}` is an Apps v1 (Nomad) setting that has no effect; it is ignored"),
                "remove it; use [checks] and [[restart]] instead",
            );
        }
    }
    t.finish(d, true);
    config
}

fn decode_experimental(d: &mut Decoder<'_>, node: &Node, path: &str) -> Option<Experimental> {
    let mut t = d.table(node, path)?;
    let take_command = |t: &mut Fields<'_>, d: &mut Decoder<'_>, key| {
        let (node, path) = t.take(d, key)?;
        if let Value::Str(text) = &node.value {
            if text.trim().contains(char::is_whitespace) {
                let words: Vec<String> =
                    text.split_whitespace().map(|w| format!("{w:?}")).collect();
                d.warn(
                    node,
                    &path,
                    DiagnosticKind::Legacy,
                    format!("`{key}` is a single string, so it is passed as ONE argument {text:?} (it is not split on spaces)"),
                    format!("write it as an array: {key} = [{}]", words.join(", ")),
                );
            }
        }
        d.string_or_strings(node, &path)
    };
    let cmd = take_command(&mut t, d, "cmd");
    let entrypoint = take_command(&mut t, d, "entrypoint");
    let exec = take_command(&mut t, d, "exec");
    let unused_flag = |t: &mut Fields<'_>, d: &mut Decoder<'_>, key: &'static str| {
        let (node, path) = t.take(d, key)?;
        let value = d.bool(node, &path)?;
        d.warn(
            node,
            &path,
            DiagnosticKind::Legacy,
            format!("`experimental.{key}` is an Apps v1 setting with no effect on Machines"),
            "remove it",
        );
        Some(value)
    };
    let auto_rollback = unused_flag(&mut t, d, "auto_rollback");
    let enable_consul = unused_flag(&mut t, d, "enable_consul");
    let enable_etcd = unused_flag(&mut t, d, "enable_etcd");
    let experimental = Experimental {
        cmd,
        entrypoint,
        exec,
        auto_rollback,
        enable_consul,
        enable_etcd,
        lazy_load_images: t.bool(d, "lazy_load_images"),
        attached: t.section(d, "attached", decode_attached),
        machine_config: t.string(d, "machine_config"),
    };
    t.finish(d, false);
    Some(experimental)
}

fn decode_attached(d: &mut Decoder<'_>, node: &Node, path: &str) -> Option<Attached> {
    let mut t = d.table(node, path)?;
    let secrets = t.section(d, "secrets", |d, node, path| {
        let mut t = d.table(node, path)?;
        let secrets = AttachedSecrets {
            export: t.string_map(d, "export"),
        };
        t.finish(d, false);
        Some(secrets)
    });
    t.finish(d, false);
    Some(Attached { secrets })
}

fn decode_build(d: &mut Decoder<'_>, node: &Node, path: &str) -> Option<Build> {
    let mut t = d.table(node, path)?;
    let settings = t
        .section(d, "settings", |d, node, path| {
            let mut fields = d.table(node, path)?;
            let map: BTreeMap<String, serde_json::Value> = fields
                .all(d)
                .into_iter()
                .map(|(k, v)| (k, v.value.to_json()))
                .collect();
            Some(map)
        })
        .unwrap_or_default();
    let build = Build {
        builder: t.string(d, "builder"),
        args: t.string_map(d, "args"),
        buildpacks: t.strings(d, "buildpacks"),
        image: t.string(d, "image"),
        settings,
        builtin: t.string(d, "builtin"),
        dockerfile: t.string(d, "dockerfile"),
        ignorefile: t.string(d, "ignorefile"),
        build_target: t.string(d, "build-target"),
        compose: t.section(d, "compose", |d, node, path| {
            let mut t = d.table(node, path)?;
            let compose = Compose {
                file: t.string(d, "file"),
            };
            t.finish(d, false);
            Some(compose)
        }),
        compression: t.string(d, "compression"),
        compression_level: t.int(d, "compression_level"),
    };
    t.finish(d, false);
    Some(build)
}

fn decode_deploy(d: &mut Decoder<'_>, node: &Node, path: &str) -> Option<Deploy> {
    let mut t = d.table(node, path)?;
    let deploy = Deploy {
        release_command: t.string(d, "release_command"),
        release_command_timeout: t.duration(d, "release_command_timeout", BareNumber::Rejected),
        release_command_vm: t.section(d, "release_command_vm", decode_compute),
        strategy: t.string(d, "strategy"),
        max_unavailable: t.float(d, "max_unavailable"),
        wait_timeout: t.duration(d, "wait_timeout", BareNumber::Rejected),
        seed_command: t.string(d, "seed_command"),
    };
    t.finish(d, false);
    Some(deploy)
}

fn decode_mount(d: &mut Decoder<'_>, node: &Node, path: &str) -> Option<Mount> {
    let mut t = d.table(node, path)?;
    let mount = Mount {
        source: t.string(d, "source"),
        destination: t.string(d, "destination"),
        initial_size: t.size(d, "initial_size"),
        snapshot_retention: t.int(d, "snapshot_retention"),
        scheduled_snapshots: t.bool(d, "scheduled_snapshots"),
        auto_extend_size_threshold: t.int(d, "auto_extend_size_threshold"),
        auto_extend_size_increment: t.size(d, "auto_extend_size_increment"),
        auto_extend_size_limit: t.size(d, "auto_extend_size_limit"),
        processes: t.strings(d, "processes"),
    };
    t.finish(d, false);
    Some(mount)
}

/// `[checks]`: a map of named checks.
fn decode_checks(d: &mut Decoder<'_>, node: &Node, path: &str) -> BTreeMap<String, TopLevelCheck> {
    let Some(mut t) = d.table(node, path) else {
        return BTreeMap::new();
    };
    let mut checks = BTreeMap::new();
    for (name, check) in t.all(d) {
        if let Some(decoded) = decode_top_level_check(d, check, &join(path, &name)) {
            checks.insert(name, decoded);
        }
    }
    checks
}

fn decode_top_level_check(d: &mut Decoder<'_>, node: &Node, path: &str) -> Option<TopLevelCheck> {
    let mut t = d.table(node, path)?;
    let check = TopLevelCheck {
        port: t.port(d, "port"),
        kind: t.string(d, "type"),
        interval: t.duration(d, "interval", BareNumber::Millis),
        timeout: t.duration(d, "timeout", BareNumber::Millis),
        grace_period: t.duration(d, "grace_period", BareNumber::Millis),
        method: t.string(d, "method"),
        path: t.string(d, "path"),
        protocol: t.string(d, "protocol"),
        tls_skip_verify: t.bool(d, "tls_skip_verify"),
        tls_server_name: t.string(d, "tls_server_name"),
        headers: t.string_map(d, "headers"),
        processes: t.strings(d, "processes"),
    };
    t.finish(d, false);
    Some(check)
}

fn decode_file(d: &mut Decoder<'_>, node: &Node, path: &str) -> Option<File> {
    let mut t = d.table(node, path)?;
    let file = File {
        guest_path: t.string(d, "guest_path"),
        raw_value: t.string(d, "raw_value"),
        local_path: t.string(d, "local_path"),
        secret_name: t.string(d, "secret_name"),
        processes: t.strings(d, "processes"),
    };
    t.finish(d, false);
    Some(file)
}

fn decode_restart(d: &mut Decoder<'_>, node: &Node, path: &str) -> Option<Restart> {
    let mut t = d.table(node, path)?;
    let restart = Restart {
        policy: t.string(d, "policy"),
        retries: t.int(d, "retries"),
        processes: t.strings(d, "processes"),
    };
    t.finish(d, false);
    Some(restart)
}

pub(super) fn decode_compute(d: &mut Decoder<'_>, node: &Node, path: &str) -> Option<Compute> {
    let mut t = d.table(node, path)?;
    let compute = Compute {
        size: t.string(d, "size"),
        memory: t.size(d, "memory"),
        cpu_kind: t.string(d, "cpu_kind"),
        cpus: t.int(d, "cpus"),
        memory_mb: t.int(d, "memory_mb"),
        max_memory_mb: t.int(d, "max_memory_mb"),
        gpus: t.int(d, "gpus"),
        gpu_kind: t.string(d, "gpu_kind"),
        host_dedication_id: t.string(d, "host_dedication_id"),
        kernel_args: t.strings(d, "kernel_args"),
        persist_rootfs: t.string(d, "persist_rootfs"),
        processes: t.strings(d, "processes"),
    };
    t.finish(d, false);
    Some(compute)
}

fn decode_static(d: &mut Decoder<'_>, node: &Node, path: &str) -> Option<Static> {
    let mut t = d.table(node, path)?;
    let statics = Static {
        guest_path: t.string(d, "guest_path"),
        url_prefix: t.string(d, "url_prefix"),
        tigris_bucket: t.string(d, "tigris_bucket"),
        index_document: t.string(d, "index_document"),
    };
    t.finish(d, false);
    Some(statics)
}

fn decode_metrics(d: &mut Decoder<'_>, node: &Node, path: &str) -> Option<Metrics> {
    let mut t = d.table(node, path)?;
    let metrics = Metrics {
        port: t.port(d, "port"),
        path: t.string(d, "path"),
        https: t.bool(d, "https"),
        processes: t.strings(d, "processes"),
    };
    t.finish(d, false);
    Some(metrics)
}

/// `true`/`false` or `"off"`/`"stop"`/`"suspend"`.
pub(super) fn decode_auto_stop(d: &mut Decoder<'_>, node: &Node, path: &str) -> Option<AutoStop> {
    match &node.value {
        Value::Bool(false) => Some(AutoStop::Off),
        Value::Bool(true) => Some(AutoStop::Stop),
        Value::Str(text) => match AutoStop::parse(text) {
            Some(mode) => Some(mode),
            None => {
                d.error(
                    node,
                    path,
                    DiagnosticKind::InvalidValue,
                    format!("invalid autostop mode {text:?}"),
                    "use \"off\", \"stop\" or \"suspend\" (or false/true)",
                );
                None
            }
        },
        _ => {
            d.wrong_type(node, path, "\"off\", \"stop\", \"suspend\" or a boolean");
            None
        }
    }
}

fn decode_auto_stop_defaults(
    d: &mut Decoder<'_>,
    node: &Node,
    path: &str,
) -> Option<AutoStopDefaults> {
    let mut t = d.table(node, path)?;
    let defaults = AutoStopDefaults {
        enabled: t.section(d, "enabled", decode_auto_stop),
        min_machines_running: t.int(d, "min_machines_running"),
    };
    t.finish(d, false);
    Some(defaults)
}

fn decode_auto_start_defaults(
    d: &mut Decoder<'_>,
    node: &Node,
    path: &str,
) -> Option<AutoStartDefaults> {
    let mut t = d.table(node, path)?;
    let defaults = AutoStartDefaults {
        enabled: t.bool(d, "enabled"),
    };
    t.finish(d, false);
    Some(defaults)
}

fn decode_regions(d: &mut Decoder<'_>, node: &Node, path: &str) -> Option<Regions> {
    let mut t = d.table(node, path)?;
    let mut regions = Regions::default();
    for (key, value) in t.all(d) {
        let entry_path = join(path, &key);
        match &value.value {
            Value::Table(_) => {
                let Some(mut group) = d.table(value, &entry_path) else {
                    continue;
                };
                let mut counts = BTreeMap::new();
                for (region, count) in group.all(d) {
                    if let Some(count) = d.int(count, &join(&entry_path, &region)) {
                        counts.insert(region, count);
                    }
                }
                regions.groups.insert(key, counts);
            }
            _ => {
                if let Some(count) = d.int(value, &entry_path) {
                    regions.default_group.insert(key, count);
                }
            }
        }
    }
    Some(regions)
}
