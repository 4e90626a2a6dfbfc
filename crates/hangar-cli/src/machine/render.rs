//! Machines as tables and detail lists.

use std::time::{Duration, UNIX_EPOCH};

use hangar_types::{Machine, MachineEvent, RestartPolicy};

use crate::output::{Details, Table};

/// One row per machine, flyctl's `machine list` columns.
pub(crate) fn machine_table(machines: &[Machine]) -> Table {
    let mut table = Table::new([
        "id",
        "name",
        "state",
        "region",
        "image",
        "ip address",
        "volume",
        "created",
        "last updated",
    ]);
    for machine in machines {
        table.push_row([
            machine.id.clone(),
            machine.name.clone(),
            machine.state.to_string(),
            machine.region.clone(),
            image_of(machine),
            machine.private_ip.clone(),
            volume_of(machine),
            machine.created_at.clone(),
            machine.updated_at.clone(),
        ]);
    }
    table
}

/// The short summary printed after `run` and `clone`.
pub(crate) fn machine_summary(machine: &Machine) -> Details {
    let mut details = Details::new(format!("Machine {}", machine.id));
    details.push("Name", machine.name.clone());
    details.push("State", machine.state.to_string());
    details.push("Region", machine.region.clone());
    details.push("Image", image_of(machine));
    details.push("Private IP", machine.private_ip.clone());
    details.push("Instance ID", machine.instance_id.clone());
    details
}

/// Everything `machine status` shows above the events.
pub(crate) fn machine_details(machine: &Machine) -> Details {
    let config = &machine.config;
    let guest = config.guest.clone().unwrap_or_default();
    let mut details = Details::new(format!("Machine {}", machine.id));
    details.push("ID", machine.id.clone());
    details.push("Name", machine.name.clone());
    details.push("Instance ID", machine.instance_id.clone());
    details.push("State", machine.state.to_string());
    details.push("Region", machine.region.clone());
    details.push("Image", image_of(machine));
    if let Some(digest) = machine.image_ref.as_ref().map(|r| &r.digest) {
        details.push("Image Digest", digest.clone());
    }
    details.push("Private IP", machine.private_ip.clone());
    details.push(
        "Process Group",
        config
            .metadata
            .get("fly_process_group")
            .cloned()
            .unwrap_or_default(),
    );
    details.push("CPU Kind", guest.cpu_kind.unwrap_or_default());
    details.push(
        "vCPUs",
        guest.cpus.map(|n| n.to_string()).unwrap_or_default(),
    );
    details.push(
        "Memory",
        guest
            .memory_mb
            .map(|mb| format!("{mb} MB"))
            .unwrap_or_default(),
    );
    details.push("Command", command_of(machine));
    details.push("Restart", restart_of(machine));
    details.push("Volume", volume_of(machine));
    details.push("Cordoned", if machine.cordoned { "yes" } else { "no" });
    details.push("Created", machine.created_at.clone());
    details.push("Updated", machine.updated_at.clone());
    for check in &machine.checks {
        details.push(
            format!("Check {}", check.name),
            format!("{} {}", check.status, check.output.trim()),
        );
    }
    details
}

/// A machine's events, newest first as the API gives them.
pub(crate) fn events_table(events: &[MachineEvent]) -> Table {
    let mut table = Table::new(["state", "event", "source", "timestamp", "info"]);
    for event in events {
        table.push_row([
            event.status.clone(),
            event.kind.clone(),
            event.source.clone(),
            format_event_time(event.timestamp),
            event_info(event),
        ]);
    }
    table
}

pub(crate) fn image_of(machine: &Machine) -> String {
    if !machine.config.image.is_empty() {
        return machine.config.image.clone();
    }
    match &machine.image_ref {
        Some(image) if !image.tag.is_empty() => format!("{}:{}", image.repository, image.tag),
        Some(image) => image.repository.clone(),
        None => String::new(),
    }
}

fn volume_of(machine: &Machine) -> String {
    machine
        .config
        .mounts
        .iter()
        .map(|mount| format!("{}:{}", mount.volume, mount.path))
        .collect::<Vec<_>>()
        .join(", ")
}

fn command_of(machine: &Machine) -> String {
    let Some(init) = &machine.config.init else {
        return String::new();
    };
    let words = if !init.exec.is_empty() {
        init.exec.clone()
    } else {
        init.entrypoint.iter().chain(&init.cmd).cloned().collect()
    };
    words.join(" ")
}

fn restart_of(machine: &Machine) -> String {
    let Some(restart) = &machine.config.restart else {
        return String::new();
    };
    let policy = match restart.policy {
        Some(RestartPolicy::No) => "no",
        Some(RestartPolicy::Always) => "always",
        Some(RestartPolicy::OnFailure) => "on-failure",
        None => "",
    };
    match restart.max_retries {
        Some(retries) => format!("{policy} (max {retries} retries)"),
        None => policy.to_string(),
    }
}

/// Unix milliseconds as RFC 3339 UTC, to the second.
pub(crate) fn format_event_time(millis: i64) -> String {
    match u64::try_from(millis) {
        Ok(millis) => humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_millis(millis))
            .to_string(),
        Err(_) => String::new(),
    }
}

/// The interesting part of an event's request: how the process exited.
fn event_info(event: &MachineEvent) -> String {
    let Some(request) = &event.request else {
        return String::new();
    };
    let mut parts = Vec::new();
    if let Some(exit) = request.get("exit_event") {
        if let Some(code) = exit.get("exit_code").and_then(|v| v.as_i64()) {
            parts.push(format!("exit_code={code}"));
        }
        if let Some(signal) = exit.get("signal").and_then(|v| v.as_i64()) {
            if signal > 0 {
                parts.push(format!("signal={signal}"));
            }
        }
        for flag in ["oom_killed", "requested_stop"] {
            if exit.get(flag).and_then(|v| v.as_bool()) == Some(true) {
                parts.push(flag.to_string());
            }
        }
    }
    if let Some(count) = request.get("restart_count").and_then(|v| v.as_i64()) {
        if count > 0 {
            parts.push(format!("restart_count={count}"));
        }
    }
    if let Some(message) = request.get("message").and_then(|v| v.as_str()) {
        parts.push(message.to_string());
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_machine() -> Machine {
        serde_json::from_value(serde_json::json!({
            "id": "3d8d413b29d089",
            "name": "aged-wind-2649",
            "state": "started",
            "region": "dev",
            "instance_id": "01JDX0000000000000000000",
            "private_ip": "172.30.0.2",
            "config": {
                "image": "busybox:latest",
                "init": {"cmd": ["httpd", "-f", "-p", "8080"]},
                "guest": {"cpu_kind": "shared", "cpus": 1, "memory_mb": 256},
                "mounts": [{"volume": "vol_0123456789abcdef", "path": "/data"}],
                "restart": {"policy": "on-failure", "max_retries": 10},
                "metadata": {"fly_process_group": "app"}
            },
            "created_at": "2026-11-28T10:00:00Z",
            "updated_at": "2026-11-28T10:00:05Z",
            "events": []
        }))
        .unwrap()
    }

    #[test]
    fn list_table_has_flyctls_columns() {
        let text = machine_table(&[sample_machine()]).render(false);
        let mut lines = text.lines();
        let header = lines.next().unwrap();
        assert!(header.starts_with("ID   "), "{header}");
        for column in [
            "NAME",
            "STATE",
            "REGION",
            "IMAGE",
            "IP ADDRESS",
            "VOLUME",
            "LAST UPDATED",
        ] {
            assert!(header.contains(column), "{header}");
        }
        let row = lines.next().unwrap();
        for cell in [
            "3d8d413b29d089",
            "aged-wind-2649",
            "started",
            "busybox:latest",
            "172.30.0.2",
            "vol_0123456789abcdef:/data",
        ] {
            assert!(row.contains(cell), "{row}");
        }
    }

    #[test]
    fn details_show_guest_command_and_restart() {
        let text = machine_details(&sample_machine()).render(false);
        assert!(text.starts_with("Machine 3d8d413b29d089\n"), "{text}");
        for line in [
            "Command       = httpd -f -p 8080",
            "Memory        = 256 MB",
            "Restart       = on-failure (max 10 retries)",
            "Process Group = app",
        ] {
            assert!(text.contains(line), "missing {line:?} in\n{text}");
        }
    }

    #[test]
    fn events_show_time_and_exit_info() {
        let events: Vec<MachineEvent> = serde_json::from_value(serde_json::json!([
            {"id": "2", "type": "exit", "status": "stopped", "source": "flyd",
             "timestamp": 1_764_324_000_000_i64,
             "request": {"exit_event": {"exit_code": 137, "oom_killed": true, "signal": 9}}},
            {"id": "1", "type": "start", "status": "started", "source": "user",
             "timestamp": 1_764_323_999_000_i64}
        ]))
        .unwrap();
        let text = events_table(&events).render(false);
        assert_eq!(
            text,
            "STATE     EVENT   SOURCE   TIMESTAMP              INFO\n\
             stopped   exit    flyd     2025-11-28T10:00:00Z   exit_code=137, signal=9, oom_killed\n\
             started   start   user     2025-11-28T09:59:59Z\n"
        );
    }
}
