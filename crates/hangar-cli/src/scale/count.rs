//! `hangar scale count`: converge each process group's Machines per region,
//! client-side through the Machines API. New Machines clone the group's
//! first Machine (standbys stripped); a group of the latest release's config
//! that has no Machine yet gets Machines built from that config and image;
//! extra Machines are destroyed. Standbys are neither counted nor removed.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use hangar_client::{Client, DestroyOptions, WaitOptions};
use hangar_config::machine::stamp_release;
use hangar_types::{
    CreateMachineRequest, Machine, MachineConfig, MachineState, Release, ReleaseStatus,
};

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
    let mut machines = fleet::machines(&client, &app).await?;
    machines.retain(|m| m.config.standbys.is_empty());
    let groups = fleet::by_group(machines.clone());
    let totals = |group: &str| groups.get(group).map_or(0, |m| m.len() as i64);
    let targets = parse_targets(&args.counts, args.process_group.as_deref(), &totals)?;
    let release = latest_release(&client, &app).await?;
    let known = known_groups(ctx, &groups, release.as_ref().map(|(_, c)| c));
    let mut templates: BTreeMap<String, MachineConfig> = BTreeMap::new();
    for group in targets.keys() {
        if !known.contains(group) {
            return Err(CliError::InvalidArguments(format!(
                "unknown process group {group:?}: the app's groups are {}",
                join(&known)
            ))
            .into());
        }
        let template = match groups.get(group) {
            Some(members) => members[0].config.clone(),
            None if targets[group] > 0 => new_group_config(group, release.as_ref())?,
            None => continue,
        };
        templates.insert(group.clone(), template);
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
        apply(ctx, &client, &app, group, members, &templates[group], plan).await?;
    }
    Ok(0)
}

/// The latest complete release and its config, if there is one.
async fn latest_release(
    client: &Client,
    app: &str,
) -> anyhow::Result<Option<(Release, hangar_config::Config)>> {
    let releases = client.list_releases(app).await?;
    let Some(release) = releases
        .into_iter()
        .filter(|r| r.status == ReleaseStatus::Complete)
        .max_by_key(|r| r.version)
    else {
        return Ok(None);
    };
    let loaded = hangar_config::load_str(&release.fly_toml, hangar_config::Format::Toml, None)
        .map_err(|e| {
            CliError::InvalidArguments(format!(
                "the config of release v{} does not load: {e}",
                release.version
            ))
        })?;
    Ok(Some((release, loaded.config)))
}

/// A new group's Machine config: built from the latest release's config,
/// with its image and release stamp (reference §5.7).
fn new_group_config(
    group: &str,
    release: Option<&(Release, hangar_config::Config)>,
) -> anyhow::Result<MachineConfig> {
    let Some((release, config)) = release else {
        return Err(CliError::InvalidArguments(format!(
            "process group {group:?} has no Machine yet and the app has no complete release \
             to build one from: deploy it first with `hangar deploy`"
        ))
        .into());
    };
    if !config.flatten(group).mounts.is_empty() {
        return Err(CliError::InvalidArguments(format!(
            "process group {group:?} mounts a volume: create its first Machines with \
             `hangar deploy`, which creates the volumes too"
        ))
        .into());
    }
    let mut machine = config
        .to_machine_config(group, None)
        .map_err(|e| CliError::InvalidArguments(format!("process group {group:?}: {e}")))?;
    machine.image = release.image.clone();
    stamp_release(&mut machine, &release.id, release.version);
    Ok(machine)
}

/// Group names the app knows: those of the latest release's config (else
/// of the local fly.toml, when present) and those its Machines carry.
fn known_groups(
    ctx: &Context,
    groups: &BTreeMap<String, Vec<Machine>>,
    release_config: Option<&hangar_config::Config>,
) -> BTreeSet<String> {
    let mut known: BTreeSet<String> = groups.keys().cloned().collect();
    let path = ctx.config_path();
    if let Some(config) = release_config {
        known.extend(config.process_names());
    } else if path.is_file() {
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
    template: &MachineConfig,
    plan: &RegionDeltas,
) -> anyhow::Result<()> {
    for (region, delta) in plan {
        if *delta > 0 {
            for _ in 0..*delta {
                let mut config = template.clone();
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
