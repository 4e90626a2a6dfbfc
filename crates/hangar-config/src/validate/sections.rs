//! Section-level rules (everything except services and per-group rules).

use super::{check_groups_exist, warn_default_group_only};
use crate::diagnostics::{Diagnostic, DiagnosticKind};
use crate::model::{Config, DeployStrategy, RestartPolicy};
use crate::shell;
use crate::units::{parse_decimal_size_gb, parse_ram_size_mb, GoDuration};

/// Signals accepted by `kill_signal`.
pub(crate) const KILL_SIGNALS: [&str; 8] = [
    "SIGINT", "SIGTERM", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGKILL", "SIGSTOP", "SIGHUP",
];

/// Most `[[statics]]` entries a config may have.
const MAX_STATICS: usize = 10;

pub(super) fn validate_sections(config: &Config, out: &mut Vec<Diagnostic>) {
    validate_top_level(config, out);
    validate_commands(config, out);
    validate_build(config, out);
    validate_deploy(config, out);
    validate_checks(config, out);
    validate_mounts(config, out);
    validate_restart(config, out);
    validate_files(config, out);
    validate_statics(config, out);
    validate_vm(config, out);
    validate_metrics(config, out);
    validate_machine_checks(config, out);
    validate_extensions(config, out);
}

/// Every `machine_checks` entry needs a command; a bare `swap_size_mb` must not be negative.
fn validate_machine_checks(config: &Config, out: &mut Vec<Diagnostic>) {
    let mut lists: Vec<(String, &[crate::model::MachineCheck])> =
        vec![("machine_checks".into(), &config.machine_checks)];
    if let Some(http) = &config.http_service {
        lists.push(("http_service.machine_checks".into(), &http.machine_checks));
    }
    for (index, service) in config.services.iter().enumerate() {
        lists.push((
            format!("services[{index}].machine_checks"),
            &service.machine_checks,
        ));
    }
    for (prefix, checks) in lists {
        for (index, check) in checks.iter().enumerate() {
            if check.command.is_empty() {
                out.push(
                    Diagnostic::error(
                        DiagnosticKind::Missing,
                        format!("{prefix}[{index}]"),
                        "machine check has no command",
                    )
                    .with_help("add `command = [\"curl\", \"-f\", \"http://…\"]`"),
                );
            }
        }
    }
    if config.swap_size_mb.is_some_and(|swap| swap < 0) {
        out.push(error(
            "swap_size_mb",
            "swap_size_mb cannot be negative",
            "use 0 or more (MB)",
        ));
    }
}

fn error(
    key: impl Into<String>,
    message: impl Into<String>,
    help: impl Into<String>,
) -> Diagnostic {
    Diagnostic::error(DiagnosticKind::InvalidValue, key, message).with_help(help)
}

fn warning(
    key: impl Into<String>,
    message: impl Into<String>,
    help: impl Into<String>,
) -> Diagnostic {
    Diagnostic::warning(DiagnosticKind::InvalidValue, key, message).with_help(help)
}

fn validate_top_level(config: &Config, out: &mut Vec<Diagnostic>) {
    if config.app.as_deref().unwrap_or_default().is_empty() {
        out.push(
            Diagnostic::warning(DiagnosticKind::Missing, "app", "no app name is set")
                .with_help("add `app = \"<name>\"` at the top, or pass -a <name> to each command"),
        );
    }
    if let Some(signal) = &config.kill_signal {
        if !KILL_SIGNALS.contains(&signal.as_str()) {
            out.push(warning(
                "kill_signal",
                format!("kill_signal '{signal}' is not a signal the platform sends"),
                format!("use one of {}", KILL_SIGNALS.join(", ")),
            ));
        }
    }
    if let Some(timeout) = config.kill_timeout {
        if timeout > GoDuration::from_secs(300) {
            out.push(warning(
                "kill_timeout",
                format!("kill_timeout {timeout} is longer than the 5m maximum"),
                "use at most \"300s\"",
            ));
        }
    }
    if config.env.contains_key("PRIMARY_REGION") && config.primary_region.is_some() {
        out.push(warning(
            "env.PRIMARY_REGION",
            "[env] PRIMARY_REGION is replaced by the top-level primary_region in every Machine",
            "remove PRIMARY_REGION from [env]; set primary_region instead",
        ));
    }
    for name in config.env.keys().filter(|n| n.starts_with("FLY_")) {
        out.push(warning(
            format!("env.{name}"),
            format!(
                "environment variable {name} starts with FLY_, a prefix reserved for the platform"
            ),
            "rename it; the platform may overwrite it",
        ));
    }
}

fn validate_commands(config: &Config, out: &mut Vec<Diagnostic>) {
    let mut check = |key: String, what: &str, command: &str| {
        if let Err(err) = shell::split(command) {
            out.push(error(
                key,
                format!("{what} can't be split into arguments: {err}"),
                "close every quote and escape special characters with a backslash",
            ));
        }
    };
    if let Some(deploy) = &config.deploy {
        if let Some(command) = &deploy.release_command {
            check("deploy.release_command".into(), "release_command", command);
        }
        if let Some(command) = &deploy.seed_command {
            check("deploy.seed_command".into(), "seed_command", command);
        }
    }
    if let Some(command) = &config.console_command {
        check("console_command".into(), "console_command", command);
    }
    for (group, command) in &config.processes {
        check(
            format!("processes.{group}"),
            &format!("process group '{group}' command"),
            command,
        );
    }
}

fn validate_build(config: &Config, out: &mut Vec<Diagnostic>) {
    let Some(build) = &config.build else {
        return;
    };
    if build.strategy_count() > 1 {
        let mut strategies = Vec::new();
        if let Some(image) = &build.image {
            strategies.push(format!("the \"{image}\" docker image"));
        }
        if build.builder.is_some() || !build.buildpacks.is_empty() {
            strategies.push("a buildpack".to_string());
        }
        if let Some(builtin) = &build.builtin {
            strategies.push(format!("the \"{builtin}\" builtin image"));
        }
        if let Some(dockerfile) = &build.dockerfile {
            strategies.push(format!("the \"{}\" dockerfile", redact_url(dockerfile)));
        }
        out.push(
            Diagnostic::warning(
                DiagnosticKind::Consistency,
                "build",
                format!(
                    "more than one build strategy is set ({}); image wins, then builder, builtin, dockerfile",
                    strategies.join(", ")
                ),
            )
            .with_help("keep only the one you mean in [build]"),
        );
    }
    if let Some(compression) = &build.compression {
        if compression != "gzip" && compression != "zstd" {
            out.push(error(
                "build.compression",
                format!("invalid compression '{compression}'"),
                "use \"gzip\" or \"zstd\"",
            ));
        }
    }
    if let Some(level) = build.compression_level {
        if !(0..=9).contains(&level) {
            out.push(error(
                "build.compression_level",
                format!("compression_level {level} is outside 0–9"),
                "use a level from 0 (fastest) to 9 (smallest)",
            ));
        }
    }
}

/// Removes credentials and query strings from a Dockerfile URL before printing it.
fn redact_url(text: &str) -> String {
    let Some((scheme, rest)) = text.split_once("://") else {
        return text.to_string();
    };
    let rest = rest.rsplit_once('@').map(|(_, host)| host).unwrap_or(rest);
    let rest = rest.split(['?', '#']).next().unwrap_or(rest);
    format!("{scheme}://{rest}")
}

fn validate_deploy(config: &Config, out: &mut Vec<Diagnostic>) {
    let Some(deploy) = &config.deploy else {
        return;
    };
    if let Some(strategy) = &deploy.strategy {
        if DeployStrategy::parse(strategy).is_none() {
            out.push(error(
                "deploy.strategy",
                format!("unsupported deployment strategy '{strategy}'"),
                format!("use one of {}", DeployStrategy::NAMES.join(", ")),
            ));
        }
    }
    if let Some(max) = deploy.max_unavailable {
        if max <= 0.0 || !max.is_finite() {
            out.push(error(
                "deploy.max_unavailable",
                format!("max_unavailable must be greater than 0, got {max}"),
                "use a fraction such as 0.33 or a whole number of Machines such as 2",
            ));
        }
    }
}

fn validate_checks(config: &Config, out: &mut Vec<Diagnostic>) {
    for (name, check) in &config.checks {
        let key = format!("checks.{name}");
        match check.kind.as_deref() {
            Some("http") | Some("tcp") => {}
            _ => out.push(error(
                format!("{key}.type"),
                "Missing or invalid check type, must be 'http' or 'tcp'",
                "add `type = \"http\"` or `type = \"tcp\"`",
            )),
        }
        if let Some(interval) = check.interval {
            if interval < GoDuration::from_secs(2) {
                out.push(error(
                    format!("{key}.interval"),
                    format!("check interval {interval} is shorter than the 2s minimum"),
                    "use an interval of at least \"2s\"",
                ));
            }
        }
        if let Some(timeout) = check.timeout {
            if timeout > GoDuration::from_secs(60) {
                out.push(error(
                    format!("{key}.timeout"),
                    format!("check timeout {timeout} is longer than the 60s maximum"),
                    "use a timeout of at most \"60s\"",
                ));
            }
        }
        check_groups_exist(config, &key, &check.processes, out);
        warn_default_group_only(
            config,
            &key,
            &format!("[checks.{name}]"),
            &check.processes,
            out,
        );
    }
}

fn validate_mounts(config: &Config, out: &mut Vec<Diagnostic>) {
    for (index, mount) in config.mounts.iter().enumerate() {
        let key = format!("mounts[{index}]");
        let label = mount.source.clone().unwrap_or_default();
        if label.is_empty() {
            out.push(
                Diagnostic::error(
                    DiagnosticKind::Missing,
                    format!("{key}.source"),
                    "[[mounts]] has no source (volume name)",
                )
                .with_help("add `source = \"<volume name>\"`"),
            );
        }
        match mount.destination.as_deref() {
            None | Some("") => out.push(
                Diagnostic::error(
                    DiagnosticKind::Missing,
                    format!("{key}.destination"),
                    format!("mount '{label}' has no destination"),
                )
                .with_help("add `destination = \"/data\"` (any absolute path except /)"),
            ),
            Some("/") => out.push(error(
                format!("{key}.destination"),
                format!("mount '{label}' cannot be mounted at /"),
                "mount the volume at a subdirectory such as /data",
            )),
            _ => {}
        }
        if let Some(size) = &mount.initial_size {
            match parse_decimal_size_gb(size) {
                Err(_) => out.push(error(
                    format!("{key}.initial_size"),
                    format!("mount '{label}' has an initial_size '{size}' value which can't be parsed"),
                    "write a size such as \"10gb\" or a number of GB",
                )),
                Ok(gb) if gb < 1 => out.push(error(
                    format!("{key}.initial_size"),
                    format!("mount '{label}' has an initial_size '{size}' value which is smaller than 1GB"),
                    "volumes are at least 1GB; use e.g. \"1gb\"",
                )),
                Ok(_) => {}
            }
        }
        if let Some(days) = mount.snapshot_retention {
            if !(1..=60).contains(&days) {
                out.push(error(
                    format!("{key}.snapshot_retention"),
                    format!("mount '{label}' has snapshot_retention {days}, outside 1–60 days"),
                    "use a number of days from 1 to 60",
                ));
            }
        }
        if let Some(threshold) = mount.auto_extend_size_threshold {
            if !(50..=99).contains(&threshold) {
                out.push(error(
                    format!("{key}.auto_extend_size_threshold"),
                    format!(
                        "mount '{label}' has auto_extend_size_threshold {threshold}, outside 50–99"
                    ),
                    "use a usage percentage from 50 to 99",
                ));
            }
            if threshold != 0
                && (mount.auto_extend_size_increment.is_none()
                    || mount.auto_extend_size_limit.is_none())
            {
                out.push(
                    Diagnostic::error(
                        DiagnosticKind::Missing,
                        format!("{key}.auto_extend_size_threshold"),
                        format!("mount '{label}' sets auto_extend_size_threshold without auto_extend_size_increment and auto_extend_size_limit"),
                    )
                    .with_help("add both, e.g. auto_extend_size_increment = \"1gb\" and auto_extend_size_limit = \"10gb\""),
                );
            }
        }
        for (field, value, max) in [
            (
                "auto_extend_size_increment",
                &mount.auto_extend_size_increment,
                100,
            ),
            ("auto_extend_size_limit", &mount.auto_extend_size_limit, 500),
        ] {
            let Some(value) = value else { continue };
            match parse_decimal_size_gb(value) {
                Err(_) => out.push(error(
                    format!("{key}.{field}"),
                    format!("mount '{label}' has a {field} '{value}' value which can't be parsed"),
                    "write a size such as \"1gb\" or a number of GB",
                )),
                Ok(gb) if !(1..=max).contains(&gb) => out.push(error(
                    format!("{key}.{field}"),
                    format!("mount '{label}' has a {field} of {gb}GB, outside 1–{max}GB"),
                    format!("use a size from 1GB to {max}GB"),
                )),
                Ok(_) => {}
            }
        }
        check_groups_exist(config, &key, &mount.processes, out);
        warn_default_group_only(
            config,
            &key,
            &format!("[[mounts]] '{label}'"),
            &mount.processes,
            out,
        );
    }
}

fn validate_restart(config: &Config, out: &mut Vec<Diagnostic>) {
    for (index, restart) in config.restart.iter().enumerate() {
        let key = format!("restart[{index}]");
        match restart.policy.as_deref() {
            Some(policy) if RestartPolicy::parse(policy).is_none() => out.push(error(
                format!("{key}.policy"),
                format!("invalid restart policy: {policy}"),
                format!("use one of {}", RestartPolicy::NAMES.join(", ")),
            )),
            None => out.push(
                Diagnostic::error(
                    DiagnosticKind::Missing,
                    format!("{key}.policy"),
                    "[[restart]] has no policy",
                )
                .with_help(format!(
                    "add `policy = \"on-failure\"` (or {})",
                    RestartPolicy::NAMES.join(", ")
                )),
            ),
            _ => {}
        }
        if let Some(retries) = restart.retries {
            if retries < 0 {
                out.push(error(
                    format!("{key}.retries"),
                    "retries cannot be negative",
                    "use 0 or more",
                ));
            }
        }
        check_groups_exist(config, &key, &restart.processes, out);
        warn_default_group_only(config, &key, "[[restart]]", &restart.processes, out);
    }
}

fn validate_files(config: &Config, out: &mut Vec<Diagnostic>) {
    for (index, file) in config.files.iter().enumerate() {
        let key = format!("files[{index}]");
        match file.guest_path.as_deref() {
            None | Some("") => out.push(
                Diagnostic::error(
                    DiagnosticKind::Missing,
                    format!("{key}.guest_path"),
                    "[[files]] has no guest_path",
                )
                .with_help("add `guest_path = \"/absolute/path\"`"),
            ),
            Some(path) if !path.starts_with('/') => out.push(error(
                format!("{key}.guest_path"),
                format!("guest_path '{path}' is not absolute"),
                "start guest_path with /",
            )),
            _ => {}
        }
        let sources = [&file.raw_value, &file.local_path, &file.secret_name]
            .iter()
            .filter(|s| s.as_deref().is_some_and(|v| !v.is_empty()))
            .count();
        if sources > 1 {
            out.push(error(
                key.clone(),
                "[[files]] sets more than one of raw_value, local_path and secret_name",
                "keep exactly one source",
            ));
        }
        if let Some(local) = file.local_path.as_deref().filter(|l| !l.is_empty()) {
            let mut path = std::path::PathBuf::from(local);
            if path.is_relative() {
                if let Some(dir) = config.source.dir() {
                    path = dir.join(path);
                }
            }
            if !path.is_file() {
                out.push(error(
                    format!("{key}.local_path"),
                    format!(
                        "local_path '{}' does not exist or is not a file",
                        path.display()
                    ),
                    "fix the path; relative paths are resolved from the fly.toml directory",
                ));
            }
        }
        check_groups_exist(config, &key, &file.processes, out);
    }
}

fn validate_statics(config: &Config, out: &mut Vec<Diagnostic>) {
    if config.statics.len() > MAX_STATICS {
        out.push(error(
            format!("statics[{MAX_STATICS}]"),
            format!(
                "{} [[statics]] entries are defined; at most {MAX_STATICS} are served",
                config.statics.len()
            ),
            "merge directories or serve the rest from the app",
        ));
    }
    let mut prefixes: Vec<(usize, String)> = Vec::new();
    for (index, statics) in config.statics.iter().enumerate() {
        let key = format!("statics[{index}]");
        let Some(prefix) = statics.url_prefix.as_deref().filter(|p| !p.is_empty()) else {
            out.push(
                Diagnostic::error(
                    DiagnosticKind::Missing,
                    format!("{key}.url_prefix"),
                    "[[statics]] has no url_prefix",
                )
                .with_help("add `url_prefix = \"/static\"`"),
            );
            continue;
        };
        if statics.guest_path.is_none() && statics.tigris_bucket.is_none() {
            out.push(
                Diagnostic::error(
                    DiagnosticKind::Missing,
                    key.clone(),
                    "[[statics]] has neither guest_path nor tigris_bucket",
                )
                .with_help("add `guest_path = \"/app/public\"`"),
            );
        }
        let normalized = format!("{}/", prefix.trim_end_matches('/'));
        for (other_index, other) in &prefixes {
            if normalized.starts_with(other.as_str()) || other.starts_with(normalized.as_str()) {
                out.push(error(
                    format!("{key}.url_prefix"),
                    format!(
                        "url_prefix '{prefix}' overlaps the url_prefix of statics[{other_index}]"
                    ),
                    "use prefixes that do not contain one another",
                ));
            }
        }
        prefixes.push((index, normalized));
    }
}

fn validate_vm(config: &Config, out: &mut Vec<Diagnostic>) {
    let release_vm = config
        .deploy
        .as_ref()
        .and_then(|d| d.release_command_vm.as_ref());
    let entries = config
        .vm
        .iter()
        .enumerate()
        .map(|(i, c)| (format!("vm[{i}]"), c))
        .chain(release_vm.map(|c| ("deploy.release_command_vm".to_string(), c)));
    for (key, compute) in entries {
        if let Some(size) = &compute.size {
            if let Err(err) = crate::machine::guest_for_size(size) {
                out.push(error(
                    format!("{key}.size"),
                    err.to_string(),
                    "pick one of the listed sizes",
                ));
            }
        }
        if let Some(memory) = &compute.memory {
            match parse_ram_size_mb(memory) {
                Err(err) => out.push(error(
                    format!("{key}.memory"),
                    err.to_string(),
                    "e.g. memory = \"1gb\" or memory = 1024",
                )),
                Ok(0) => out.push(error(
                    format!("{key}.memory"),
                    "memory cannot be zero",
                    "set at least 256 (MB)",
                )),
                Ok(_) => {}
            }
        }
        if let Some(kind) = &compute.cpu_kind {
            if kind != "shared" && kind != "performance" {
                out.push(error(
                    format!("{key}.cpu_kind"),
                    format!("invalid cpu_kind '{kind}'"),
                    "use \"shared\" or \"performance\"",
                ));
            }
        }
        if let Some(persist) = &compute.persist_rootfs {
            if !["never", "restart", "always"].contains(&persist.as_str()) {
                out.push(error(
                    format!("{key}.persist_rootfs"),
                    format!("invalid persist_rootfs '{persist}'"),
                    "use \"never\", \"restart\" or \"always\"",
                ));
            }
        }
        check_groups_exist(config, &key, &compute.processes, out);
    }
}

fn validate_metrics(config: &Config, out: &mut Vec<Diagnostic>) {
    for (index, metrics) in config.metrics.iter().enumerate() {
        let key = format!("metrics[{index}]");
        if metrics.port.unwrap_or(0) <= 0 {
            out.push(
                Diagnostic::error(
                    DiagnosticKind::Missing,
                    format!("{key}.port"),
                    "[[metrics]] has no port",
                )
                .with_help("add `port = 9091`"),
            );
        }
        check_groups_exist(config, &key, &metrics.processes, out);
        warn_default_group_only(config, &key, "[[metrics]]", &metrics.processes, out);
    }
}

fn validate_extensions(config: &Config, out: &mut Vec<Diagnostic>) {
    if let Some(min) = config
        .auto_stop_machines
        .as_ref()
        .and_then(|a| a.min_machines_running)
    {
        if min < 0 {
            out.push(error(
                "auto_stop_machines.min_machines_running",
                "min_machines_running cannot be negative",
                "use 0 or more",
            ));
        }
    }
    let Some(regions) = &config.regions else {
        return;
    };
    let known = config.process_names();
    let mut all = regions
        .default_group
        .iter()
        .map(|(r, c)| (format!("regions.{r}"), r, *c))
        .collect::<Vec<_>>();
    for (group, counts) in &regions.groups {
        if !known.contains(group) {
            out.push(
                Diagnostic::error(
                    DiagnosticKind::Consistency,
                    format!("regions.{group}"),
                    format!("[regions.{group}] names a process group that is not defined"),
                )
                .with_help(format!("use one of {}", config.format_process_names())),
            );
        }
        all.extend(
            counts
                .iter()
                .map(|(r, c)| (format!("regions.{group}.{r}"), r, *c)),
        );
    }
    for (key, region, count) in all {
        if count < 0 {
            out.push(error(
                key.clone(),
                format!("Machine count for region '{region}' is negative"),
                "use 0 or more",
            ));
        }
        let valid_code = !region.is_empty()
            && region
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !valid_code {
            out.push(error(
                key,
                format!("'{region}' is not a region code"),
                "use a lowercase region code such as ord or ams",
            ));
        }
    }
}
