//! `hangar scale count`: converge each process group's Machines per region,
//! client-side through the Machines API. New Machines clone the group's
//! first Machine (standbys stripped); a group of the latest release's config
//! that has no Machine yet gets Machines built from that config and image;
//! extra Machines are destroyed (their volumes stay). Standbys are neither
//! counted nor removed. A new Machine of a group with a mount gets its own
//! volume: the control plane claims a free one of the mount's name in the
//! Machine's region or creates one, and deletes it again if the Machine
//! cannot be created.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use anyhow::Context as _;
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
        let mut template = match groups.get(group) {
            Some(members) => members[0].config.clone(),
            None if targets[group] > 0 => new_group_config(group, release.as_ref())?,
            None => continue,
        };
        let release_config = release.as_ref().map(|(_, config)| config);
        volume_per_machine(&client, &app, group, &mut template, release_config).await?;
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
    let mut machine = config
        .to_machine_config(group, None)
        .map_err(|e| CliError::InvalidArguments(format!("process group {group:?}: {e}")))?;
    machine.image = release.image.clone();
    stamp_release(&mut machine, &release.id, release.version);
    Ok(machine)
}

/// Makes the mount of `template` name its volume by name only, so each new
/// Machine claims a free volume of that name in its region or gets a new
/// one (reference §5.7), as large as the largest volume of that name, else
/// the mount's `initial_size`, else 1 GB.
async fn volume_per_machine(
    client: &Client,
    app: &str,
    group: &str,
    template: &mut MachineConfig,
    release_config: Option<&hangar_config::Config>,
) -> anyhow::Result<()> {
    if template.mounts.is_empty() {
        return Ok(());
    }
    let volumes = client.list_volumes(app).await?;
    let initial_size = release_config.and_then(|c| c.flatten(group).initial_volume_size_gb());
    for mount in &mut template.mounts {
        let name = mount.name.clone().filter(|n| !n.is_empty()).or_else(|| {
            let volume = volumes.iter().find(|v| v.id == mount.volume)?;
            Some(volume.name.clone())
        });
        let Some(name) = name else {
            return Err(CliError::InvalidArguments(format!(
                "the Machines of process group {group:?} mount volume {:?} at {}, which is gone \
                 and names no volume to create: deploy with fly.toml's [mounts] source set",
                mount.volume, mount.path
            ))
            .into());
        };
        mount.size_gb = volumes
            .iter()
            .filter(|v| v.name == name)
            .map(|v| v.size_gb)
            .max()
            .or(initial_size);
        mount.name = Some(name);
        mount.volume.clear();
    }
    Ok(())
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
                let machine = client
                    .create_machine(app, &request)
                    .await
                    .with_context(|| creation_failed(group, region, &request.config))?;
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

/// What could not be created (the control plane leaves nothing of it).
fn creation_failed(group: &str, region: &str, config: &MachineConfig) -> String {
    let volume = config
        .mounts
        .first()
        .and_then(|m| m.name.as_deref())
        .map(|name| format!(" with a volume {name:?}"))
        .unwrap_or_default();
    format!("cannot create a Machine{volume} for group '{group}' in region '{region}'")
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
