//! Rules for `[http_service]` and `[[services]]`.

use super::{check_groups_exist, warn_default_group_only};
use crate::diagnostics::{Diagnostic, DiagnosticKind};
use crate::model::{Concurrency, Config};
use crate::units::GoDuration;

const CONCURRENCY_TYPES: [&str; 2] = ["connections", "requests"];

pub(super) fn validate_services(config: &Config, out: &mut Vec<Diagnostic>) {
    if let Some(http) = &config.http_service {
        let key = "http_service";
        if http.internal_port.unwrap_or(0) <= 0 {
            out.push(
                Diagnostic::error(DiagnosticKind::Missing, format!("{key}.internal_port"), "[http_service] has no internal_port")
                    .with_help("add `internal_port = 8080` (the port your app listens on); flyctl would silently use 0"),
            );
        } else {
            check_port(&format!("{key}.internal_port"), http.internal_port, out);
        }
        if let Some(concurrency) = &http.concurrency {
            check_concurrency(&format!("{key}.concurrency"), concurrency, out);
        }
        for (index, check) in http.checks.iter().enumerate() {
            check_service_durations(
                &format!("{key}.checks[{index}]"),
                check.interval,
                check.timeout,
                check.grace_period,
                out,
            );
        }
        check_min_machines(
            &format!("{key}.min_machines_running"),
            http.min_machines_running,
            out,
        );
        check_groups_exist(config, key, &http.processes, out);
        warn_default_group_only(config, key, "[http_service]", &http.processes, out);
    }
    for (index, service) in config.services.iter().enumerate() {
        let key = format!("services[{index}]");
        if config.has_process_groups() && service.processes.is_empty() {
            out.push(
                Diagnostic::error(
                    DiagnosticKind::Consistency,
                    key.clone(),
                    "Service has no processes set, but [processes] defines process groups",
                )
                .with_help(format!(
                    "add `processes = [\"{}\"]` (groups: {})",
                    config.default_process_group(),
                    config.format_process_names()
                )),
            );
        }
        check_groups_exist(config, &key, &service.processes, out);
        if service.ports.is_empty() {
            out.push(
                Diagnostic::error(DiagnosticKind::Missing, key.clone(), "Service must expose at least one port")
                    .with_help("add a [[services.ports]] table with `port = …` (flyctl only warns; the proxy cannot route to it)"),
            );
        }
        match service.protocol.as_deref() {
            Some("tcp") | Some("udp") => {}
            Some(other) => out.push(
                Diagnostic::error(
                    DiagnosticKind::InvalidValue,
                    format!("{key}.protocol"),
                    format!("invalid protocol '{other}'"),
                )
                .with_help("use \"tcp\" or \"udp\""),
            ),
            None => out.push(
                Diagnostic::warning(
                    DiagnosticKind::Missing,
                    key.clone(),
                    "[[services]] has no protocol; tcp is assumed",
                )
                .with_help("add `protocol = \"tcp\"` or `protocol = \"udp\"`"),
            ),
        }
        match service.internal_port {
            None | Some(0) => out.push(
                Diagnostic::error(
                    DiagnosticKind::Missing,
                    format!("{key}.internal_port"),
                    "[[services]] has no internal_port",
                )
                .with_help("add `internal_port = …`, the port your app listens on"),
            ),
            port => check_port(&format!("{key}.internal_port"), port, out),
        }
        for (port_index, port) in service.ports.iter().enumerate() {
            let port_key = format!("{key}.ports[{port_index}]");
            if port.port.is_none() && (port.start_port.is_none() || port.end_port.is_none()) {
                out.push(
                    Diagnostic::error(
                        DiagnosticKind::Missing,
                        port_key.clone(),
                        "port entry has neither `port` nor `start_port` and `end_port`",
                    )
                    .with_help("add `port = 80` or a range with start_port and end_port"),
                );
            }
            check_port(&format!("{port_key}.port"), port.port, out);
            check_port(&format!("{port_key}.start_port"), port.start_port, out);
            check_port(&format!("{port_key}.end_port"), port.end_port, out);
        }
        if let Some(concurrency) = &service.concurrency {
            check_concurrency(&format!("{key}.concurrency"), concurrency, out);
        }
        for (check_index, check) in service.tcp_checks.iter().enumerate() {
            check_service_durations(
                &format!("{key}.tcp_checks[{check_index}]"),
                check.interval,
                check.timeout,
                check.grace_period,
                out,
            );
        }
        for (check_index, check) in service.http_checks.iter().enumerate() {
            check_service_durations(
                &format!("{key}.http_checks[{check_index}]"),
                check.interval,
                check.timeout,
                check.grace_period,
                out,
            );
        }
        check_min_machines(
            &format!("{key}.min_machines_running"),
            service.min_machines_running,
            out,
        );
    }
}

fn check_port(key: &str, port: Option<i64>, out: &mut Vec<Diagnostic>) {
    if let Some(port) = port {
        if !(1..=65535).contains(&port) {
            out.push(
                Diagnostic::error(
                    DiagnosticKind::InvalidValue,
                    key,
                    format!("port {port} is outside 1–65535"),
                )
                .with_help("use a TCP/UDP port number"),
            );
        }
    }
}

fn check_min_machines(key: &str, value: Option<i64>, out: &mut Vec<Diagnostic>) {
    if value.is_some_and(|v| v < 0) {
        out.push(
            Diagnostic::error(
                DiagnosticKind::InvalidValue,
                key,
                "min_machines_running cannot be negative",
            )
            .with_help("use 0 or more"),
        );
    }
}

fn check_concurrency(key: &str, concurrency: &Concurrency, out: &mut Vec<Diagnostic>) {
    if let Some(kind) = &concurrency.kind {
        if !CONCURRENCY_TYPES.contains(&kind.as_str()) {
            out.push(
                Diagnostic::error(DiagnosticKind::InvalidValue, format!("{key}.type"), format!("invalid concurrency type '{kind}'"))
                    .with_help("use \"connections\" or \"requests\" (flyctl does not check this; the proxy would ignore the limits)"),
            );
        }
    }
    if let (Some(soft), Some(hard)) = (concurrency.soft_limit, concurrency.hard_limit) {
        if soft > hard {
            out.push(
                Diagnostic::warning(
                    DiagnosticKind::InvalidValue,
                    format!("{key}.soft_limit"),
                    format!(
                        "soft_limit {soft} is above hard_limit {hard}, so it never takes effect"
                    ),
                )
                .with_help("make soft_limit at most hard_limit"),
            );
        }
    }
    for (field, value) in [
        ("soft_limit", concurrency.soft_limit),
        ("hard_limit", concurrency.hard_limit),
    ] {
        if value.is_some_and(|v| v < 0) {
            out.push(
                Diagnostic::error(
                    DiagnosticKind::InvalidValue,
                    format!("{key}.{field}"),
                    format!("{field} cannot be negative"),
                )
                .with_help("use a positive number"),
            );
        }
    }
}

/// Service checks: below 1s is raised to 1s, above 1m lowered to 1m (warnings, as flyctl).
fn check_service_durations(
    key: &str,
    interval: Option<GoDuration>,
    timeout: Option<GoDuration>,
    grace_period: Option<GoDuration>,
    out: &mut Vec<Diagnostic>,
) {
    let second = GoDuration::from_secs(1);
    let minute = GoDuration::from_secs(60);
    for (field, value) in [
        ("interval", interval),
        ("timeout", timeout),
        ("grace_period", grace_period),
    ] {
        let Some(value) = value else { continue };
        let too_short = if field == "grace_period" {
            value > GoDuration::default() && value < second
        } else {
            value < second
        };
        if too_short {
            out.push(
                Diagnostic::warning(
                    DiagnosticKind::InvalidValue,
                    format!("{key}.{field}"),
                    format!("check {field} {value} is too short and will be raised to 1 second"),
                )
                .with_help(format!("set {field} to at least \"1s\"")),
            );
        } else if value > minute {
            out.push(
                Diagnostic::warning(
                    DiagnosticKind::InvalidValue,
                    format!("{key}.{field}"),
                    format!("check {field} {value} is too long and will be lowered to 1 minute"),
                )
                .with_help(format!("set {field} to at most \"1m\"")),
            );
        }
    }
}
