//! `hangar status`: the app, its current release, and its Machines by
//! process group.

use clap::Args;
use hangar_types::{Machine, Release, ReleaseStatus};
use serde::Serialize;

use crate::context::Context;
use crate::fleet;
use crate::machine::render::image_of;
use crate::output::{Details, Table};

#[derive(Debug, Args)]
pub struct StatusArgs {}

/// `status --json`.
#[derive(Debug, Serialize)]
struct StatusJson<'a> {
    app: &'a str,
    status: &'a str,
    current_release: Option<&'a Release>,
    machines: &'a [Machine],
}

pub(crate) async fn run(ctx: &Context, _args: StatusArgs) -> anyhow::Result<i32> {
    let app_name = ctx.require_app()?;
    let client = ctx.client()?;
    let app = fleet::require_app(&client, &app_name).await?;
    let machines = fleet::machines(&client, &app_name).await?;
    // Releases are optional: an app that was never deployed has none.
    let releases = client.list_releases(&app_name).await.unwrap_or_default();
    let current = current_release(&releases);
    if ctx.output.is_json() {
        return ctx
            .output
            .json(&StatusJson {
                app: &app.name,
                status: &app.status,
                current_release: current,
                machines: &machines,
            })
            .map(|()| 0);
    }
    let mut details = Details::new(format!("App {}", app.name));
    details.push("Name", app.name.clone());
    details.push("Owner", app.organization.slug.clone());
    details.push("Status", app.status.clone());
    details.push(
        "Release",
        current.map_or_else(
            || "none (not deployed yet)".to_string(),
            |release| format!("v{} ({})", release.version, release.image),
        ),
    );
    ctx.output.details(&details)?;
    if machines.is_empty() {
        ctx.output.line("")?;
        ctx.output.line(
            "No Machines: deploy with `hangar deploy`, or add some with `hangar scale count`",
        )?;
        return Ok(0);
    }
    ctx.output.line("")?;
    ctx.output.line("Machines")?;
    let standbys = machines.iter().any(|m| !m.config.standbys.is_empty());
    ctx.output.table(&machines_table(machines))?;
    if standbys {
        ctx.output.line("")?;
        ctx.output.line(format!(
            "  {STANDBY_MARK} standby machine: stopped, started only if a machine it watches fails"
        ))?;
    }
    Ok(0)
}

/// The latest complete release, else the latest one.
fn current_release(releases: &[Release]) -> Option<&Release> {
    releases
        .iter()
        .filter(|r| r.status == ReleaseStatus::Complete)
        .max_by_key(|r| r.version)
        .or_else(|| releases.iter().max_by_key(|r| r.version))
}

/// Appended to a standby's id, as flyctl does.
const STANDBY_MARK: &str = "†";

/// flyctl's status columns, Machines grouped by process group.
fn machines_table(machines: Vec<Machine>) -> Table {
    let mut table = Table::new([
        "process",
        "id",
        "version",
        "region",
        "state",
        "checks",
        "image",
        "last updated",
    ]);
    for (group, members) in fleet::by_group(machines) {
        for machine in members {
            let state = if machine.cordoned {
                format!("{} (cordoned)", machine.state)
            } else {
                machine.state.to_string()
            };
            table.push_row([
                group.clone(),
                if machine.config.standbys.is_empty() {
                    machine.id.clone()
                } else {
                    format!("{}{STANDBY_MARK}", machine.id)
                },
                fleet::release_of(&machine).unwrap_or("").to_string(),
                machine.region.clone(),
                state,
                fleet::checks_summary(&machine),
                image_of(&machine),
                machine.updated_at.clone(),
            ]);
        }
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    fn machine(id: &str, standbys: &[&str]) -> Machine {
        serde_json::from_value(serde_json::json!({
            "id": id, "name": id, "state": "stopped", "region": "dev",
            "instance_id": "01J", "private_ip": "172.30.0.2",
            "config": {"image": "busybox", "standbys": standbys},
            "created_at": "", "updated_at": "", "events": []
        }))
        .unwrap()
    }

    #[test]
    fn standbys_are_marked_with_a_dagger() {
        let table = machines_table(vec![machine("m1", &[]), machine("m2", &["m1"])]);
        let text = table.render(false);
        assert!(text.contains("m2†"), "{text}");
        assert!(!text.contains("m1†"), "{text}");
    }
}
