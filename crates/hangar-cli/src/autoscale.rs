//! `hangar autoscale set|show|disable`: let the edge proxy start and stop
//! Machines with traffic, between a floor and a ceiling.
//!
//! Hangar's autoscaling is the proxy's autostart/autostop over a fixed set
//! of Machines: `max` is how many Machines the group has (created or
//! destroyed now, as `scale count` does), `min` is the services'
//! `min_machines_running` (the proxy never stops Machines below it). The
//! settings live on the Machines' services and, when there is a fly.toml,
//! in `[http_service]` (`min_machines_running`, `auto_stop_machines`,
//! `auto_start_machines`) so the next deploy keeps them.

use clap::{Args, Subcommand};
use hangar_client::{Client, WaitOptions};
use hangar_config::TomlEditor;
use hangar_types::{AutostopMode, Machine, MachineState, UpdateMachineRequest};
use serde::Serialize;

use crate::context::Context;
use crate::error::CliError;
use crate::fleet;
use crate::output::Table;

/// How long a stopped Machine may take to be replaced by an update.
const UPDATE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// `hangar autoscale …`
#[derive(Debug, Subcommand)]
#[command(
    after_help = "The proxy starts stopped Machines when requests come and stops \
    idle ones, never going below min running; max is the number of Machines the group has."
)]
pub enum AutoscaleCommand {
    /// Keep at least min Machines running and at most max (`set min=1 max=4`)
    Set(AutoscaleSetArgs),
    /// Show the autoscaling of each process group
    Show,
    /// Turn autostop off: every Machine stays running
    Disable(AutoscaleGroupArgs),
}

#[derive(Debug, Args)]
pub struct AutoscaleSetArgs {
    /// `min=N` and `max=N`
    #[arg(value_name = "min=N max=N", required = true, num_args = 1..=2)]
    pub limits: Vec<String>,
    #[command(flatten)]
    pub group: AutoscaleGroupArgs,
}

#[derive(Debug, Args)]
pub struct AutoscaleGroupArgs {
    /// Process group [default: app]
    #[arg(short = 'g', long, value_name = "GROUP", default_value = hangar_config::DEFAULT_GROUP)]
    pub process_group: String,
}

/// `min=` and `max=` from the arguments.
pub(crate) fn parse_limits(args: &[String]) -> Result<(i64, i64), CliError> {
    let (mut min, mut max) = (None, None);
    for arg in args {
        let parsed = arg
            .split_once('=')
            .and_then(|(key, value)| Some((key, value.parse::<i64>().ok()?)));
        match parsed {
            Some(("min", value)) if value >= 0 => min = Some(value),
            Some(("max", value)) if value >= 1 => max = Some(value),
            _ => {
                return Err(CliError::InvalidArguments(format!(
                    "invalid limit {arg:?}: write min=N (N ≥ 0) and max=N (N ≥ 1)"
                )))
            }
        }
    }
    let (Some(min), Some(max)) = (min, max) else {
        return Err(CliError::InvalidArguments(
            "give both limits: `hangar autoscale set min=1 max=3`".into(),
        ));
    };
    if min > max {
        return Err(CliError::InvalidArguments(format!(
            "min={min} is above max={max}"
        )));
    }
    Ok((min, max))
}

pub(crate) async fn run(ctx: &Context, command: AutoscaleCommand) -> anyhow::Result<i32> {
    match command {
        AutoscaleCommand::Set(args) => set(ctx, args).await,
        AutoscaleCommand::Show => show(ctx).await,
        AutoscaleCommand::Disable(args) => disable(ctx, args).await,
    }
}

async fn set(ctx: &Context, args: AutoscaleSetArgs) -> anyhow::Result<i32> {
    let (min, max) = parse_limits(&args.limits)?;
    let group = &args.group.process_group;
    let app = ctx.require_app()?;
    let client = ctx.client()?;
    let editor = open_config(ctx)?;
    group_machines(&client, &app, group).await?;
    crate::scale::count_group(ctx, group, max).await?;
    let machines = group_machines(&client, &app, group).await?;
    update_services(&client, &app, &machines, AutostopMode::Stop, Some(min)).await?;
    if let Some(mut editor) = editor {
        editor.set(&["http_service"], "auto_stop_machines", "stop")?;
        editor.set(&["http_service"], "auto_start_machines", true)?;
        editor.set(&["http_service"], "min_machines_running", min)?;
        editor.save(&ctx.config_path())?;
    }
    ctx.output.note(format_args!(
        "Autoscaling group '{group}': at least {min} running, at most {max} Machines"
    ));
    Ok(0)
}

async fn disable(ctx: &Context, args: AutoscaleGroupArgs) -> anyhow::Result<i32> {
    let group = &args.process_group;
    let app = ctx.require_app()?;
    let client = ctx.client()?;
    let editor = open_config(ctx)?;
    let machines = group_machines(&client, &app, group).await?;
    update_services(&client, &app, &machines, AutostopMode::Off, None).await?;
    for machine in &machines {
        // Its state now: the list may predate a start by the proxy.
        let current = client.get_machine(&app, &machine.id).await?;
        if matches!(
            current.state,
            MachineState::Stopped | MachineState::Suspended | MachineState::Created
        ) {
            client.start_machine(&app, &machine.id).await?;
        }
    }
    if let Some(mut editor) = editor {
        editor.set(&["http_service"], "auto_stop_machines", "off")?;
        editor.save(&ctx.config_path())?;
    }
    ctx.output.note(format_args!(
        "Autoscaling of group '{group}' disabled: its {} Machine(s) stay running",
        machines.len()
    ));
    Ok(0)
}

#[derive(Debug, Serialize)]
struct AutoscaleJson {
    process: String,
    enabled: bool,
    min: i64,
    max: usize,
    running: usize,
}

async fn show(ctx: &Context) -> anyhow::Result<i32> {
    let app = ctx.require_app()?;
    let client = ctx.client()?;
    let rows: Vec<AutoscaleJson> = fleet::by_group(fleet::machines(&client, &app).await?)
        .into_iter()
        .map(|(process, machines)| {
            let service = machines[0].config.services.first();
            AutoscaleJson {
                enabled: service
                    .is_some_and(|s| s.autostop.is_some_and(|mode| mode != AutostopMode::Off)),
                min: service.and_then(|s| s.min_machines_running).unwrap_or(0),
                max: machines.len(),
                running: machines
                    .iter()
                    .filter(|m| m.state == MachineState::Started)
                    .count(),
                process,
            }
        })
        .collect();
    if ctx.output.is_json() {
        ctx.output.json(&rows)?;
        return Ok(0);
    }
    let mut table = Table::new(["process", "autoscale", "min", "max", "running"]);
    for row in rows {
        table.push_row([
            row.process,
            if row.enabled { "on" } else { "off" }.to_string(),
            row.min.to_string(),
            row.max.to_string(),
            row.running.to_string(),
        ]);
    }
    ctx.output.table(&table)?;
    Ok(0)
}

fn open_config(ctx: &Context) -> anyhow::Result<Option<TomlEditor>> {
    let path = ctx.config_path();
    Ok(if path.is_file() {
        Some(TomlEditor::open(&path)?)
    } else {
        None
    })
}

/// The group's Machines; an error when it has none or none with services.
async fn group_machines(client: &Client, app: &str, group: &str) -> anyhow::Result<Vec<Machine>> {
    let machines: Vec<Machine> = fleet::machines(client, app)
        .await?
        .into_iter()
        .filter(|m| fleet::group_of(m) == group)
        .collect();
    if machines.is_empty() || machines.iter().all(|m| m.config.services.is_empty()) {
        return Err(CliError::InvalidArguments(format!(
            "process group {group:?} has no Machines with services: autoscaling works through \
             the proxy, so deploy an [http_service] first"
        ))
        .into());
    }
    Ok(machines)
}

async fn update_services(
    client: &Client,
    app: &str,
    machines: &[Machine],
    autostop: AutostopMode,
    min: Option<i64>,
) -> anyhow::Result<()> {
    for machine in machines {
        let mut config = machine.config.clone();
        for service in &mut config.services {
            service.autostop = Some(autostop);
            service.autostart = Some(true);
            if let Some(min) = min {
                service.min_machines_running = Some(min);
            }
        }
        let skip_launch = machine.state != MachineState::Started;
        let updated = client
            .update_machine(
                app,
                &machine.id,
                &UpdateMachineRequest {
                    config,
                    skip_launch: skip_launch.then_some(true),
                    ..UpdateMachineRequest::default()
                },
            )
            .await?;
        // A stopped Machine is replaced in the background: until it is
        // stopped again it cannot be started.
        if machine.state == MachineState::Stopped {
            let mut wait = WaitOptions::new(MachineState::Stopped, UPDATE_TIMEOUT);
            wait.instance_id = Some(updated.instance_id.clone());
            client.wait_for_state(app, &machine.id, &wait).await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_parse_and_are_checked() {
        assert_eq!(
            parse_limits(&["min=1".into(), "max=3".into()]).unwrap(),
            (1, 3)
        );
        assert!(parse_limits(&["min=1".into()]).is_err());
        assert!(parse_limits(&["min=4".into(), "max=3".into()]).is_err());
        assert!(parse_limits(&["min=x".into(), "max=3".into()]).is_err());
    }
}
