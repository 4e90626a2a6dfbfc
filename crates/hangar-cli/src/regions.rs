//! `hangar regions list`: the regions this platform runs Machines in.
//!
//! Hangar has no region catalogue of its own: a region exists where a host
//! runs (`hangar dev --region`). The list is built from the Machines of
//! every app the token can see, with the number of Machines in each.

use std::collections::BTreeMap;

use clap::Subcommand;
use hangar_client::ListMachinesOptions;
use serde::Serialize;

use crate::context::Context;
use crate::output::Table;

/// `hangar regions …`
#[derive(Debug, Subcommand)]
pub enum RegionsCommand {
    /// List the regions Machines run in, with their Machine counts
    #[command(visible_alias = "ls")]
    List,
}

#[derive(Debug, Serialize)]
struct RegionJson {
    code: String,
    machines: usize,
}

pub(crate) async fn run(ctx: &Context, command: RegionsCommand) -> anyhow::Result<i32> {
    let RegionsCommand::List = command;
    let client = ctx.client()?;
    let apps = client.list_apps("personal").await?;
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for app in &apps.apps {
        for machine in client
            .list_machines(&app.name, &ListMachinesOptions::default())
            .await?
        {
            *counts.entry(machine.region).or_default() += 1;
        }
    }
    let regions: Vec<RegionJson> = counts
        .into_iter()
        .map(|(code, machines)| RegionJson { code, machines })
        .collect();
    if ctx.output.is_json() {
        ctx.output.json(&regions)?;
        return Ok(0);
    }
    if regions.is_empty() {
        ctx.output.line(
            "No Machines run anywhere yet: the region of a host is its `hangar dev --region` \
             (default `dev`)",
        )?;
        return Ok(0);
    }
    let mut table = Table::new(["code", "machines"]);
    for region in regions {
        table.push_row([region.code, region.machines.to_string()]);
    }
    ctx.output.table(&table)?;
    Ok(0)
}
