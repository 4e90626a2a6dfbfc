//! `hangar scale count`: converge each process group's Machines per region,
//! client-side through the Machines API. New Machines clone the group's
//! first Machine (standbys stripped); extra Machines are destroyed.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use hangar_client::{Client, DestroyOptions, WaitOptions};
use hangar_types::{CreateMachineRequest, Machine, MachineState};

use super::plan::{converge, parse_targets, RegionDeltas};
use super::CountArgs;
use crate::context::Context;
use crate::error::CliError;
use crate::fleet;

/// How long a new Machine may take to start.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Converges the counts; with `ask`, a plan that removes Machines is
/// confirmed first.
pub(crate) async fn run(ctx: &Context, args: CountArgs, ask: bool) -> anyhow::Result<i32> {
    let app = ctx.require_app()?;
    let client = ctx.client()?;
    let machines = fleet::machines(&client, &app).await?;
    let groups = fleet::by_group(machines.clone());
    let totals = |group: &str| groups.get(group).map_or(0, |m| m.len() as i64);
    let targets = parse_targets(&args.counts, args.process_group.as_deref(), &totals)?;
    let known = known_groups(ctx, &groups);
    for group in targets.keys() {
        if !known.contains(group) {
            return Err(CliError::InvalidArguments(format!(
                "unknown process group {group:?}: the app's groups are {}",
                join(&known)
            ))
            .into());
        }
        if !groups.contains_key(group) && targets[group] > 0 {
            return Err(CliError::InvalidArguments(format!(
                "process group {group:?} has no Machine to copy: deploy it first with \
                 `hangar deploy`"
            ))
            .into());
        }
    }
    let regions = regions(ctx, &args, &machines)?;
    let mut plans: BTreeMap<String, RegionDeltas> = BTreeMap::new();
    for (group, total) in &targets {
        let mut current: BTreeMap<String, i64> = BTreeMap::new();
        for machine in groups.get(group).into_iter().flatten() {
            *current.entry(machine.region.clone()).or_default() += 1;
        }
        let plan = converge(&current, &regions, *total, args.max_per_region)?;
        if !plan.is_empty() {
            plans.insert(group.clone(), plan);
        }
    }
    if plans.is_empty() {
        ctx.output
            .note("The app already has that many Machines: nothing to change");
        return Ok(0);
    }
    ctx.output.note(format_args!(
        "App '{app}' is going to be scaled according to this plan:"
    ));
    for (group, plan) in &plans {
        for (region, delta) in plan {
            ctx.output.note(format_args!(
                "  {delta:+} machines for group '{group}' in region '{region}'"
            ));
        }
    }
    let removes = plans
        .values()
        .flat_map(|p| p.values())
        .any(|delta| *delta < 0);
    if ask && removes && !ctx.confirm("Destroy those Machines?", "destroying Machines")? {
        return Ok(1);
    }
    for (group, plan) in &plans {
        let members = groups.get(group).map(Vec::as_slice).unwrap_or_default();
        apply(ctx, &client, &app, group, members, plan).await?;
    }
    Ok(0)
}

/// Group names the app knows: those of fly.toml (when present) and those
/// its Machines carry.
fn known_groups(ctx: &Context, groups: &BTreeMap<String, Vec<Machine>>) -> BTreeSet<String> {
    let mut known: BTreeSet<String> = groups.keys().cloned().collect();
    let path = ctx.config_path();
    if path.is_file() {
        if let Ok(loaded) = hangar_config::load_file(&path) {
            known.extend(loaded.config.process_names());
        }
    }
    if known.is_empty() {
        known.insert(hangar_config::DEFAULT_GROUP.to_string());
    }
    known
}

fn join(names: &BTreeSet<String>) -> String {
    names.iter().cloned().collect::<Vec<_>>().join(", ")
}

/// `--region` (comma lists allowed), else every region the app has Machines
/// in, else fly.toml's `primary_region`.
fn regions(ctx: &Context, args: &CountArgs, machines: &[Machine]) -> anyhow::Result<Vec<String>> {
    if !args.region.is_empty() {
        let mut seen = BTreeSet::new();
        return Ok(args
            .region
            .iter()
            .filter(|r| seen.insert(r.to_string()))
            .cloned()
            .collect());
    }
    let mut regions: Vec<String> = Vec::new();
    for machine in machines {
        if !regions.contains(&machine.region) {
            regions.push(machine.region.clone());
        }
    }
    if regions.is_empty() {
        let path = ctx.config_path();
        if let Ok(loaded) = hangar_config::load_file(&path) {
            regions.extend(loaded.config.primary_region);
        }
    }
    Ok(regions)
}

/// Creates and destroys Machines of one group as `plan` says.
async fn apply(
    ctx: &Context,
    client: &Client,
    app: &str,
    group: &str,
    members: &[Machine],
    plan: &RegionDeltas,
) -> anyhow::Result<()> {
    for (region, delta) in plan {
        if *delta > 0 {
            let source = &members[0];
            for _ in 0..*delta {
                let mut config = source.config.clone();
                config.standbys.clear();
                let request = CreateMachineRequest {
                    config,
                    region: Some(region.clone()),
                    ..CreateMachineRequest::default()
                };
                let machine = client.create_machine(app, &request).await?;
                client
                    .wait_for_state(
                        app,
                        &machine.id,
                        &WaitOptions::new(MachineState::Started, START_TIMEOUT),
                    )
                    .await?;
                ctx.output.note(format_args!(
                    "  Created machine {} in group '{group}', region '{region}'",
                    machine.id
                ));
            }
        } else {
            for machine in removal_order(members, region)
                .into_iter()
                .take(delta.unsigned_abs() as usize)
            {
                client
                    .destroy_machine(
                        app,
                        &machine.id,
                        DestroyOptions {
                            force: true,
                            kill: true,
                        },
                    )
                    .await?;
                ctx.output.note(format_args!(
                    "  Destroyed machine {} in group '{group}', region '{region}'",
                    machine.id
                ));
            }
        }
    }
    Ok(())
}

/// The group's Machines in `region`, those not running first, newest first.
fn removal_order<'a>(members: &'a [Machine], region: &str) -> Vec<&'a Machine> {
    let mut in_region: Vec<&Machine> = members.iter().filter(|m| m.region == region).collect();
    in_region.sort_by(|a, b| {
        (a.state == MachineState::Started)
            .cmp(&(b.state == MachineState::Started))
            .then_with(|| b.created_at.cmp(&a.created_at))
    });
    in_region
}
