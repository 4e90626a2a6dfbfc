//! `hangar machine list` and `hangar machine status`.

use hangar_client::ListMachinesOptions;

use super::render;
use super::{ListArgs, StatusArgs};
use crate::context::Context;

pub(crate) async fn list(ctx: &Context, app: &str, args: ListArgs) -> anyhow::Result<i32> {
    let client = ctx.client()?;
    let options = ListMachinesOptions {
        include_deleted: args.all,
        region: args.region,
        ..ListMachinesOptions::default()
    };
    let machines = client.list_machines(app, &options).await?;
    if ctx.output.is_json() {
        ctx.output.json(&machines)?;
    } else if args.quiet {
        for machine in &machines {
            ctx.output.line(&machine.id)?;
        }
    } else if machines.is_empty() {
        ctx.output.line(format_args!(
            "No Machines in app {app}. Run one with `hangar machine run IMAGE -a {app}`."
        ))?;
    } else {
        ctx.output.table(&render::machine_table(&machines))?;
    }
    Ok(0)
}

pub(crate) async fn status(ctx: &Context, app: &str, args: StatusArgs) -> anyhow::Result<i32> {
    let client = ctx.client()?;
    let mut machine = client.get_machine(app, &args.id).await?;
    if machine.events.is_empty() {
        machine.events = client.machine_events(app, &args.id).await?;
    }
    if ctx.output.is_json() {
        ctx.output.json(&machine)?;
        return Ok(0);
    }
    ctx.output.details(&render::machine_details(&machine))?;
    ctx.output.line("")?;
    if machine.events.is_empty() {
        ctx.output.line("No events yet.")?;
    } else {
        ctx.output.line("Event Logs")?;
        ctx.output.table(&render::events_table(&machine.events))?;
    }
    if args.display_config {
        ctx.output.line("")?;
        ctx.output.line("Config")?;
        ctx.output.json(&machine.config)?;
    }
    Ok(0)
}
