//! Normalization of legacy (Nomad-era / GraphQL-era) shapes, applied to the untyped tree in
//! flyctl's fixed order: env, services, processes, experimental, checks, compute, mounts, metrics,
//! build. Value conversions that depend on the field (duration units, string ports, stringified
//! env values) are done by the decoder, which knows each field's type.

use crate::tree::{Node, Table, Value};

/// A legacy shape that cannot be normalized. Like flyctl, loading does not fail on it: the config
/// is replaced by a stub holding `app` and this error, which validation then reports.
#[derive(Debug, Clone)]
pub(crate) struct PatchError {
    pub message: String,
    pub key: String,
    pub offset: Option<usize>,
}

/// A legacy value that was dropped because a modern key already says otherwise.
#[derive(Debug, Clone)]
pub(crate) struct PatchWarning {
    pub message: String,
    pub help: String,
    pub key: String,
    pub offset: Option<usize>,
}

/// Applies every patch to the document root; returns what was dropped on the way.
pub(crate) fn apply(root: &mut Table) -> Result<Vec<PatchWarning>, PatchError> {
    let mut warnings = Vec::new();
    patch_env(root);
    patch_services(root)?;
    patch_processes(root, &mut warnings);
    patch_experimental(root, &mut warnings);
    patch_checks(root, &mut warnings);
    merge_aliases(root, &["vm", "compute", "computes"], "vm");
    merge_aliases(root, &["mounts", "mount"], "mounts");
    merge_aliases(root, &["metrics", "metric"], "metrics");
    patch_build(root);
    Ok(warnings)
}

/// `[[env]]` (array of tables) → one merged table.
fn patch_env(root: &mut Table) {
    let Some(env) = root.get_mut("env") else {
        return;
    };
    if let Value::Array(items) = &env.value {
        if items.iter().all(|item| item.as_table().is_some()) {
            let mut merged = Table::default();
            for item in items {
                if let Some(table) = item.as_table() {
                    for (key, value) in &table.entries {
                        merged.insert(key, value.clone());
                    }
                }
            }
            env.value = Value::Table(merged);
        }
    }
}

/// `[services]` table → array; empty entries dropped; `concurrency = "soft,hard"` → table; single
/// `ports` table → array; check header lists → maps.
fn patch_services(root: &mut Table) -> Result<(), PatchError> {
    let Some(services) = root.get_mut("services") else {
        return Ok(());
    };
    wrap_in_array(services);
    let Value::Array(items) = &mut services.value else {
        return Ok(());
    };
    items.retain(|item| !matches!(&item.value, Value::Table(t) if t.is_empty()));
    for (index, item) in items.iter_mut().enumerate() {
        let Some(service) = item.as_table_mut() else {
            continue;
        };
        if let Some(concurrency) = service.get_mut("concurrency") {
            patch_concurrency(concurrency, index)?;
        }
        if let Some(ports) = service.get_mut("ports") {
            wrap_in_array(ports);
        }
        if let Some(Value::Array(checks)) = service.get_mut("http_checks").map(|n| &mut n.value) {
            for check in checks.iter_mut().filter_map(Node::as_table_mut) {
                patch_headers(check);
            }
        }
    }
    if items.is_empty() {
        root.remove("services");
    }
    Ok(())
}

fn patch_concurrency(node: &mut Node, index: usize) -> Result<(), PatchError> {
    match &node.value {
        Value::Table(_) => Ok(()),
        Value::Str(text) => {
            let mut limits = Table::default();
            limits.insert(
                "type",
                Node::new(Value::Str("requests".into()), node.offset),
            );
            let parts: Vec<&str> = text.split(',').map(str::trim).collect();
            if let [soft, hard] = parts.as_slice() {
                for (key, part) in [("soft_limit", soft), ("hard_limit", hard)] {
                    let value = part
                        .parse::<i64>()
                        .map(Value::Int)
                        .unwrap_or_else(|_| Value::Str(part.to_string()));
                    limits.insert(key, Node::new(value, node.offset));
                }
                node.value = Value::Table(limits);
                Ok(())
            } else {
                Err(PatchError {
                    message: format!(
                        "Unknown format for service concurrency: {text:?} (expected \"soft,hard\")"
                    ),
                    key: format!("services[{index}].concurrency"),
                    offset: node.offset,
                })
            }
        }
        other => Err(PatchError {
            message: format!(
                "Unknown type for service concurrency: {}",
                other.go_type_name()
            ),
            key: format!("services[{index}].concurrency"),
            offset: node.offset,
        }),
    }
}

/// `headers = []` → removed; `[[headers]] {name, value}` → map.
fn patch_headers(check: &mut Table) {
    let Some(headers) = check.get_mut("headers") else {
        return;
    };
    let Value::Array(items) = &headers.value else {
        return;
    };
    if items.is_empty() {
        check.remove("headers");
        return;
    }
    let mut map = Table::default();
    for item in items {
        let Some(entry) = item.as_table() else {
            return;
        };
        let (Some(name), Some(value)) = (entry.get("name"), entry.get("value")) else {
            return;
        };
        let Some(name) = name.as_str() else {
            return;
        };
        map.insert(name, value.clone());
    }
    headers.value = Value::Table(map);
}

/// `[[processes]] {name, command}` → map; an empty array is removed.
fn patch_processes(root: &mut Table, warnings: &mut Vec<PatchWarning>) {
    let Some(processes) = root.get_mut("processes") else {
        return;
    };
    let Value::Array(items) = &processes.value else {
        return;
    };
    let mut map = Table::default();
    for (index, item) in items.iter().enumerate() {
        let key = format!("processes[{index}]");
        let entry = match item.as_table() {
            Some(entry) if entry.is_empty() => continue,
            Some(entry) => entry,
            None => {
                warnings.push(PatchWarning {
                    message: format!("[[processes]] entry is {}, not a table; it is ignored", item.value.describe()),
                    help: "write each entry as a table with `name` and `command`, or use [processes] name = \"command\"".into(),
                    key,
                    offset: item.offset,
                });
                continue;
            }
        };
        let Some(name) = entry.get("name").and_then(Node::as_str) else {
            warnings.push(PatchWarning {
                message: "[[processes]] entry has no `name`; it is ignored".into(),
                help: "add `name = \"<group>\"`, or use [processes] name = \"command\"".into(),
                key,
                offset: item.offset,
            });
            continue;
        };
        for (extra, node) in entry
            .entries
            .iter()
            .filter(|(k, _)| k != "name" && k != "command")
        {
            warnings.push(PatchWarning {
                message: format!("unknown key `{extra}` in [[processes]]; it is ignored"),
                help: "a legacy [[processes]] entry has only `name` and `command`".into(),
                key: format!("{key}.{extra}"),
                offset: node.offset,
            });
        }
        let command = entry
            .get("command")
            .cloned()
            .unwrap_or_else(|| Node::new(Value::Str(String::new()), item.offset));
        map.insert(name, Node::new(command.value, item.offset));
    }
    if map.is_empty() {
        root.remove("processes");
    } else {
        processes.value = Value::Table(map);
    }
}

/// Hoists `experimental.kill_timeout` and `metrics_port`/`metrics_path`; removes an empty table.
fn patch_experimental(root: &mut Table, warnings: &mut Vec<PatchWarning>) {
    let Some(experimental) = root.get_mut("experimental").and_then(Node::as_table_mut) else {
        return;
    };
    let kill_timeout = experimental.remove("kill_timeout");
    let metrics_port = experimental.remove("metrics_port");
    let metrics_path = experimental.remove("metrics_path");
    let now_empty = experimental.is_empty();
    if now_empty {
        root.remove("experimental");
    }
    if let Some(kill_timeout) = kill_timeout {
        if root.contains("kill_timeout") {
            warnings.push(PatchWarning {
                message: "legacy `experimental.kill_timeout` is ignored because the top-level `kill_timeout` is set".into(),
                help: "remove `kill_timeout` from [experimental]".into(),
                key: "experimental.kill_timeout".into(),
                offset: kill_timeout.offset,
            });
        } else {
            root.insert("kill_timeout", kill_timeout);
        }
    }
    if metrics_port.is_some() || metrics_path.is_some() {
        if root.contains("metrics") || root.contains("metric") {
            for (key, node) in [
                ("metrics_port", &metrics_port),
                ("metrics_path", &metrics_path),
            ] {
                if let Some(node) = node {
                    warnings.push(PatchWarning {
                        message: format!(
                            "legacy `experimental.{key}` is ignored because [[metrics]] is set"
                        ),
                        help: format!("remove `{key}` from [experimental]"),
                        key: format!("experimental.{key}"),
                        offset: node.offset,
                    });
                }
            }
            return;
        }
        let offset = metrics_port
            .as_ref()
            .or(metrics_path.as_ref())
            .and_then(|n| n.offset);
        let mut metrics = Table::default();
        if let Some(port) = metrics_port {
            metrics.insert("port", port);
        }
        if let Some(path) = metrics_path {
            metrics.insert("path", path);
        }
        root.insert("metrics", Node::new(Value::Table(metrics), offset));
    }
}

/// `checks = [{name = …}]` → map keyed by name; header lists → maps; an empty list is removed.
fn patch_checks(root: &mut Table, warnings: &mut Vec<PatchWarning>) {
    let Some(checks) = root.get_mut("checks") else {
        return;
    };
    if let Value::Array(items) = &checks.value {
        let mut map = Table::default();
        for (index, item) in items.iter().enumerate() {
            let mut entry = item.clone();
            let name = entry
                .as_table_mut()
                .and_then(|t| t.remove("name"))
                .and_then(|n| n.as_str().map(str::to_string))
                .unwrap_or_else(|| {
                    let generated = format!("check_{index}");
                    warnings.push(PatchWarning {
                        message: format!(
                            "check in the checks list has no `name`; it is named '{generated}'"
                        ),
                        help: "add `name = \"<check name>\"`, or write it as [checks.<name>]"
                            .into(),
                        key: format!("checks[{index}]"),
                        offset: item.offset,
                    });
                    generated
                });
            map.insert(&name, entry);
        }
        if map.is_empty() {
            root.remove("checks");
            return;
        }
        checks.value = Value::Table(map);
    }
    if let Some(table) = checks.as_table_mut() {
        for (_, check) in table.entries.iter_mut() {
            if let Some(check) = check.as_table_mut() {
                patch_headers(check);
            }
        }
    }
}

/// Collects every alias of a section (each a table or an array of tables) into one array under
/// `target`, in the order the aliases appear in the file.
fn merge_aliases(root: &mut Table, aliases: &[&str], target: &str) {
    let present: Vec<String> = root
        .entries
        .iter()
        .map(|(k, _)| k.clone())
        .filter(|k| aliases.contains(&k.as_str()))
        .collect();
    if present.is_empty() {
        return;
    }
    let mut merged = Vec::new();
    let mut offset = None;
    let mut position = None;
    for key in &present {
        let index = root.entries.iter().position(|(k, _)| k == key);
        position = position.or(index);
        if let Some(mut node) = root.remove(key) {
            offset = offset.or(node.offset);
            wrap_in_array(&mut node);
            match node.value {
                Value::Array(items) => merged.extend(items),
                other => merged.push(Node::new(other, node.offset)),
            }
        }
    }
    let node = Node::new(Value::Array(merged), offset);
    let at = position
        .unwrap_or(root.entries.len())
        .min(root.entries.len());
    root.entries.insert(at, (target.to_string(), node));
}

/// `[build] build_target` → `build-target`.
fn patch_build(root: &mut Table) {
    let Some(build) = root.get_mut("build").and_then(Node::as_table_mut) else {
        return;
    };
    if let Some(target) = build.remove("build_target") {
        if !build.contains("build-target") {
            build.insert("build-target", target);
        }
    }
}

/// A single table becomes a one-element array; arrays are left alone.
fn wrap_in_array(node: &mut Node) {
    if let Value::Table(_) = node.value {
        let inner = std::mem::replace(&mut node.value, Value::Null);
        node.value = Value::Array(vec![Node::new(inner, node.offset)]);
    }
}
