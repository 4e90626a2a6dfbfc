//! `hangar scale show`: process groups with their counts, regions and sizes.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::context::Context;
use crate::fleet;
use crate::output::Table;

/// One process group as `scale show --json` prints it.
#[derive(Debug, Serialize)]
struct GroupJson {
    process: String,
    count: usize,
    kind: String,
    cpus: i64,
    memory_mb: i64,
    regions: BTreeMap<String, usize>,
}

pub(crate) async fn run(ctx: &Context) -> anyhow::Result<i32> {
    let app = ctx.require_app()?;
    let client = ctx.client()?;
    let groups: Vec<GroupJson> = fleet::by_group(fleet::machines(&client, &app).await?)
        .into_iter()
        .map(|(process, machines)| {
            let guest = machines[0].config.guest.clone().unwrap_or_default();
            let mut regions = BTreeMap::new();
            for machine in &machines {
                *regions.entry(machine.region.clone()).or_default() += 1;
            }
            GroupJson {
                process,
                count: machines.len(),
                kind: guest.cpu_kind.unwrap_or_else(|| "shared".into()),
                cpus: guest.cpus.unwrap_or(1),
                memory_mb: guest.memory_mb.unwrap_or(256),
                regions,
            }
        })
        .collect();
    if ctx.output.is_json() {
        ctx.output.json(&groups)?;
        return Ok(0);
    }
    ctx.output
        .line(format_args!("VM Resources for app: {app}"))?;
    ctx.output.line("")?;
    let mut table = Table::new(["process", "count", "kind", "cpus", "memory", "regions"]);
    for group in groups {
        let regions = group
            .regions
            .iter()
            .map(|(region, count)| format!("{region}({count})"))
            .collect::<Vec<_>>()
            .join(",");
        table.push_row([
            group.process,
            group.count.to_string(),
            group.kind,
            group.cpus.to_string(),
            format!("{} MB", group.memory_mb),
            regions,
        ]);
    }
    ctx.output.table(&table)?;
    Ok(0)
}
