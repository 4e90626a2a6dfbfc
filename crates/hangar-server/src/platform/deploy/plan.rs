//! The plan of a deploy: from fly.toml and the app's current Machines, the
//! actions per process group, grouped in numbered batches by strategy.
//! Every action carries what it needs to be undone (the old config, a
//! pre-chosen id for a re-created Machine), so a revert after a failure or
//! a restart of the control plane knows exactly what to put back.

use std::collections::BTreeMap;

use hangar_agent::MachineRecord;
use hangar_config::machine::{
    stamp_release, CONSOLE_GROUP, METADATA_PLATFORM_VERSION, METADATA_PROCESS_GROUP,
    METADATA_RELEASE_ID, METADATA_RELEASE_VERSION, METADATA_TOOL_VERSION, PLATFORM_VERSION_V2,
    RELEASE_COMMAND_GROUP, TEST_MACHINE_GROUP,
};
use hangar_config::{Config, DEFAULT_GROUP};
use hangar_types::{ids, MachineConfig, MachineState};
use serde::{Deserialize, Serialize};

/// How Machines of a group are replaced (reference §5.3–5.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    Rolling,
    Immediate,
    Canary,
    Bluegreen,
}

impl Strategy {
    pub fn parse(name: &str) -> Option<Strategy> {
        match name.trim().to_ascii_lowercase().as_str() {
            "rolling" => Some(Strategy::Rolling),
            "immediate" => Some(Strategy::Immediate),
            "canary" => Some(Strategy::Canary),
            "bluegreen" => Some(Strategy::Bluegreen),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::Rolling => "rolling",
            Strategy::Immediate => "immediate",
            Strategy::Canary => "canary",
            Strategy::Bluegreen => "bluegreen",
        }
    }
}

/// One change to one Machine.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Action {
    /// A new Machine (`temporary`: a canary, destroyed later in the plan).
    Create {
        machine_id: String,
        name: String,
        region: String,
        config: Box<MachineConfig>,
        cordoned: bool,
        skip_launch: bool,
        temporary: bool,
    },
    /// An in-place update.
    Update {
        machine_id: String,
        old: Box<MachineConfig>,
        new: Box<MachineConfig>,
        skip_launch: bool,
        /// The release's secrets version: the Machine refuses to boot with
        /// older secrets (a restart for `secrets set` gets the new ones).
        #[serde(default)]
        min_secrets_version: Option<u64>,
    },
    /// A Machine destroyed; a revert re-creates it as `recreate_id`.
    Destroy {
        machine_id: String,
        region: String,
        old: Box<MachineConfig>,
        was_started: bool,
        temporary: bool,
        recreate_id: String,
    },
    /// A green Machine of a blue-green deploy starts receiving traffic.
    Uncordon { machine_id: String },
}

impl Action {
    pub fn machine_id(&self) -> &str {
        match self {
            Action::Create { machine_id, .. }
            | Action::Update { machine_id, .. }
            | Action::Destroy { machine_id, .. }
            | Action::Uncordon { machine_id } => machine_id,
        }
    }
}

/// An action, its batch, and whether the batch waits for the Machine to be
/// started and pass its checks.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Step {
    pub batch: u32,
    pub group: String,
    pub action: Action,
    pub wait: bool,
}

/// Every step, in batch order.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Plan {
    pub steps: Vec<Step>,
}

impl Plan {
    /// How many batches there are.
    pub fn batches(&self) -> u32 {
        self.steps.last().map(|s| s.batch + 1).unwrap_or(0)
    }

    pub fn batch(&self, batch: u32) -> impl Iterator<Item = &Step> {
        self.steps.iter().filter(move |s| s.batch == batch)
    }
}

/// What a plan is computed from.
pub struct PlanInput<'a> {
    pub config: &'a Config,
    pub image: &'a str,
    pub release_id: &'a str,
    pub release_version: u64,
    /// The app's Machines, destroyed ones included (they are skipped).
    pub machines: &'a [MachineRecord],
    pub strategy: Strategy,
    pub max_unavailable: f64,
    pub ha: bool,
    pub restart_only: bool,
    pub secrets_changed: bool,
    /// The release's secrets version (0: none set yet).
    pub secrets_version: u64,
    /// Where new Machines go without `primary_region` or `[regions]`.
    pub default_region: &'a str,
    /// Regions that have a host.
    pub regions: &'a [String],
}

/// The process group of a Machine (`app` when unset).
pub fn group_of(config: &MachineConfig) -> String {
    config
        .metadata
        .get(METADATA_PROCESS_GROUP)
        .cloned()
        .unwrap_or_else(|| DEFAULT_GROUP.to_string())
}

/// Machines a deploy manages: created by deploys (`fly_platform_version`),
/// alive, and not one-off (release command, console, test) Machines.
pub fn managed(machines: &[MachineRecord]) -> Vec<&MachineRecord> {
    let mut out: Vec<&MachineRecord> = machines
        .iter()
        .filter(|m| !matches!(m.state, MachineState::Destroyed | MachineState::Destroying))
        .filter(|m| {
            m.config
                .metadata
                .get(METADATA_PLATFORM_VERSION)
                .map(String::as_str)
                == Some(PLATFORM_VERSION_V2)
        })
        .filter(|m| {
            let group = group_of(&m.config);
            ![RELEASE_COMMAND_GROUP, CONSOLE_GROUP, TEST_MACHINE_GROUP].contains(&group.as_str())
        })
        .collect();
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out
}

/// A config without what every release changes, for "did anything change?".
pub fn comparable(config: &MachineConfig) -> serde_json::Value {
    let mut config = config.clone();
    for key in [
        METADATA_RELEASE_ID,
        METADATA_RELEASE_VERSION,
        METADATA_TOOL_VERSION,
    ] {
        config.metadata.remove(key);
    }
    serde_json::to_value(&config).unwrap_or_default()
}

/// Whether a Machine is a standby (reference §5.8): stopped, started by the
/// agent when a Machine it watches fails.
pub fn is_standby(config: &MachineConfig) -> bool {
    !config.standbys.is_empty()
}

/// A standby's config: `base` watching `watched` (`config.standbys` and
/// `FLY_STANDBY_FOR`).
fn standby_config(mut base: MachineConfig, watched: Vec<String>) -> MachineConfig {
    base.env.insert("FLY_STANDBY_FOR".into(), watched.join(","));
    base.standbys = watched;
    base
}

/// Whether a Machine config has any health check.
pub fn has_checks(config: &MachineConfig) -> bool {
    hangar_config::strategy_rules::machine_has_checks(config)
}

struct Builder {
    steps: Vec<Step>,
    batch: u32,
}

impl Builder {
    fn push(&mut self, group: &str, action: Action, wait: bool) {
        self.steps.push(Step {
            batch: self.batch,
            group: group.to_string(),
            action,
            wait,
        });
    }

    /// Closes the current batch if it has steps.
    fn next_batch(&mut self) {
        if self.steps.last().is_some_and(|s| s.batch == self.batch) {
            self.batch += 1;
        }
    }
}

fn create(config: MachineConfig, region: &str, temporary: bool, cordoned: bool) -> Action {
    Action::Create {
        machine_id: ids::new_machine_id(),
        name: ids::new_machine_name(),
        region: region.to_string(),
        config: Box::new(config),
        cordoned,
        skip_launch: false,
        temporary,
    }
}

/// `config` made fit for new Machines of `group`: each claims its own
/// volume (never the one of the Machine the config comes from), created at
/// the mount's `initial_size` if none is free.
fn for_new_machines(mut config: MachineConfig, fly_toml: &Config, group: &str) -> MachineConfig {
    let size_gb = fly_toml.flatten(group).initial_volume_size_gb();
    for mount in &mut config.mounts {
        mount.volume.clear();
        mount.size_gb = size_gb;
    }
    config
}

/// Whether the Machines a deploy creates for a group get a standby each: a
/// group without services, unless the deploy says `--ha=false` (§5.8).
fn wants_standbys(input: &PlanInput<'_>, config: &MachineConfig) -> bool {
    input.ha && config.services.is_empty()
}

/// A new Machine of `group` in `region` and, with `standby`, a stopped
/// standby in the same region watching it.
fn push_new_machine(
    b: &mut Builder,
    group: &str,
    config: &MachineConfig,
    region: &str,
    wait: bool,
    standby: bool,
) {
    let machine = create(config.clone(), region, false, false);
    let watched = machine.machine_id().to_string();
    b.push(group, machine, wait);
    if standby {
        let mut standby = create(
            standby_config(config.clone(), vec![watched]),
            region,
            false,
            false,
        );
        if let Action::Create { skip_launch, .. } = &mut standby {
            *skip_launch = true;
        }
        b.push(group, standby, false);
    }
}

fn destroy(machine: &MachineRecord, temporary: bool) -> Action {
    Action::Destroy {
        machine_id: machine.id.clone(),
        region: machine.region.clone(),
        old: Box::new(machine.config.clone()),
        was_started: machine.state == MachineState::Started,
        temporary,
        recreate_id: ids::new_machine_id(),
    }
}

/// Machines changed at once by a rolling update of `count` started Machines.
pub fn rolling_parallelism(max_unavailable: f64, count: usize) -> usize {
    if max_unavailable >= 1.0 {
        max_unavailable as usize
    } else {
        ((count as f64) * max_unavailable.max(0.0)).ceil().max(1.0) as usize
    }
}

/// Computes the plan; an error says what in the config cannot be deployed.
pub fn build(input: &PlanInput<'_>) -> Result<Plan, String> {
    let config = input.config;
    let groups = config.process_names();
    let current = managed(input.machines);
    let mut by_group: BTreeMap<String, Vec<&MachineRecord>> = BTreeMap::new();
    let mut standbys_by_group: BTreeMap<String, Vec<&MachineRecord>> = BTreeMap::new();
    for machine in &current {
        let groups = if is_standby(&machine.config) {
            &mut standbys_by_group
        } else {
            &mut by_group
        };
        groups
            .entry(group_of(&machine.config))
            .or_default()
            .push(machine);
    }
    let mut b = Builder {
        steps: Vec::new(),
        batch: 0,
    };
    let desired =
        |group: &str, existing: Option<&MachineConfig>| -> Result<MachineConfig, String> {
            let mut out = match (input.restart_only, existing) {
                (true, Some(existing)) => existing.clone(),
                _ => config
                    .to_machine_config(group, existing)
                    .map_err(|e| e.to_string())?,
            };
            if !input.restart_only {
                out.image = input.image.to_string();
                if let Some(existing) = existing {
                    super::volumes::carry_volume(existing, &mut out);
                }
            }
            stamp_release(&mut out, input.release_id, input.release_version);
            Ok(out)
        };
    let check_region = |region: &str| -> Result<(), String> {
        if input.regions.iter().any(|r| r == region) {
            Ok(())
        } else {
            Err(format!(
                "region {region:?} has no host (known: {}); change primary_region or [regions] in fly.toml",
                input.regions.join(", ")
            ))
        }
    };
    let mut destroyed: Vec<String> = Vec::new();
    if !input.restart_only {
        // Groups gone from fly.toml lose their Machines, standbys included.
        for (group, machines) in by_group.iter().chain(&standbys_by_group) {
            if !groups.contains(group) {
                for machine in machines {
                    b.push(group, destroy(machine, false), false);
                }
            }
        }
        b.next_batch();
        // New groups get Machines and `[regions]` counts hold; every Machine
        // created here gets its standby in its own region (§5.8).
        let wait = input.strategy != Strategy::Immediate;
        for group in &groups {
            let existing = by_group.get(group).cloned().unwrap_or_default();
            let counts = config.desired_region_counts(group);
            if existing.is_empty() {
                let base = for_new_machines(desired(group, None)?, config, group);
                let counts = if counts.is_empty() {
                    let region = config
                        .primary_region
                        .clone()
                        .filter(|r| !r.is_empty())
                        .unwrap_or_else(|| input.default_region.to_string());
                    let ha = input.ha && !base.services.is_empty();
                    BTreeMap::from([(region, if ha { 2 } else { 1 })])
                } else {
                    counts
                };
                let standbys = wants_standbys(input, &base);
                for (region, count) in counts {
                    check_region(&region)?;
                    for _ in 0..count.max(0) {
                        push_new_machine(&mut b, group, &base, &region, wait, standbys);
                    }
                }
                continue;
            }
            for (region, want) in counts {
                check_region(&region)?;
                let here: Vec<&&MachineRecord> =
                    existing.iter().filter(|m| m.region == region).collect();
                let have = here.len() as i64;
                if have < want {
                    let base =
                        for_new_machines(desired(group, Some(&existing[0].config))?, config, group);
                    let standbys = wants_standbys(input, &base);
                    for _ in have..want {
                        push_new_machine(&mut b, group, &base, &region, wait, standbys);
                    }
                }
                for machine in here.iter().skip(want.max(0) as usize) {
                    destroyed.push(machine.id.clone());
                    b.push(group, destroy(machine, false), false);
                }
            }
        }
        b.next_batch();
    }
    // Blue Machines and the green Machines replacing them.
    let mut replaced: BTreeMap<String, String> = BTreeMap::new();
    // Existing Machines of kept groups, by strategy.
    for group in &groups {
        let mut changed: Vec<(&MachineRecord, MachineConfig)> = Vec::new();
        for machine in by_group.get(group).cloned().unwrap_or_default() {
            if destroyed.contains(&machine.id) {
                continue;
            }
            let new = desired(group, Some(&machine.config))?;
            let differs = comparable(&new) != comparable(&machine.config);
            if differs || input.restart_only || input.secrets_changed {
                changed.push((machine, new));
            }
        }
        if changed.is_empty() {
            standby_steps(
                &mut b,
                group,
                &standbys_by_group,
                &destroyed,
                &replaced,
                &desired,
            )?;
            continue;
        }
        let update = |machine: &MachineRecord, new: &MachineConfig| Action::Update {
            machine_id: machine.id.clone(),
            old: Box::new(machine.config.clone()),
            new: Box::new(new.clone()),
            skip_launch: machine.state != MachineState::Started,
            min_secrets_version: (input.secrets_version > 0).then_some(input.secrets_version),
        };
        let started = |m: &MachineRecord| m.state == MachineState::Started;
        match input.strategy {
            Strategy::Immediate => {
                for (machine, new) in &changed {
                    b.push(group, update(machine, new), false);
                }
            }
            Strategy::Rolling | Strategy::Canary => {
                if input.strategy == Strategy::Canary {
                    let (first, new) = &changed[0];
                    let mut canary = new.clone();
                    canary.metadata.insert("fly_canary".into(), "true".into());
                    let action = create(canary, &first.region, true, false);
                    let canary_id = action.machine_id().to_string();
                    b.push(group, action, true);
                    b.next_batch();
                    b.push(
                        group,
                        Action::Destroy {
                            machine_id: canary_id,
                            region: first.region.clone(),
                            old: Box::new(new.clone()),
                            was_started: true,
                            temporary: true,
                            recreate_id: String::new(),
                        },
                        false,
                    );
                    b.next_batch();
                }
                let warm = changed.iter().filter(|(m, _)| started(m)).count();
                let parallel = rolling_parallelism(input.max_unavailable, warm.max(1));
                for chunk in changed.chunks(parallel) {
                    for (machine, new) in chunk {
                        b.push(group, update(machine, new), started(machine));
                    }
                    b.next_batch();
                }
            }
            Strategy::Bluegreen => {
                let mut greens = Vec::new();
                for (machine, new) in &changed {
                    let mut action = create(new.clone(), &machine.region, false, true);
                    if let Action::Create { skip_launch, .. } = &mut action {
                        *skip_launch = !started(machine);
                    }
                    greens.push(action.machine_id().to_string());
                    replaced.insert(machine.id.clone(), action.machine_id().to_string());
                    b.push(group, action, started(machine));
                }
                b.next_batch();
                for green in greens {
                    b.push(group, Action::Uncordon { machine_id: green }, false);
                }
                b.next_batch();
                for (machine, _) in &changed {
                    b.push(group, destroy(machine, false), false);
                }
            }
        }
        b.next_batch();
        standby_steps(
            &mut b,
            group,
            &standbys_by_group,
            &destroyed,
            &replaced,
            &desired,
        )?;
    }
    Ok(Plan { steps: b.steps })
}

/// The config a group's Machine should have, from its current one.
type DesiredConfig<'a> = dyn Fn(&str, Option<&MachineConfig>) -> Result<MachineConfig, String> + 'a;

/// The last batch of a kept group: its standbys follow the release but stay
/// stopped, watch the green Machines that replaced their blue ones, and go
/// away when the group gains services or loses the Machines they watch.
fn standby_steps(
    b: &mut Builder,
    group: &str,
    standbys_by_group: &BTreeMap<String, Vec<&MachineRecord>>,
    destroyed: &[String],
    replaced: &BTreeMap<String, String>,
    desired: &DesiredConfig<'_>,
) -> Result<(), String> {
    for standby in standbys_by_group.get(group).into_iter().flatten() {
        let watched: Vec<String> = standby
            .config
            .standbys
            .iter()
            .filter(|id| !destroyed.contains(id))
            .map(|id| replaced.get(id).unwrap_or(id).clone())
            .collect();
        let new = desired(group, Some(&standby.config))?;
        if !new.services.is_empty() || watched.is_empty() {
            b.push(group, destroy(standby, false), false);
            continue;
        }
        let new = standby_config(new, watched);
        if comparable(&new) != comparable(&standby.config) {
            let action = Action::Update {
                machine_id: standby.id.clone(),
                old: Box::new(standby.config.clone()),
                new: Box::new(new),
                skip_launch: true,
                min_secrets_version: None,
            };
            b.push(group, action, false);
        }
    }
    b.next_batch();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const WORKER_IN_TWO_REGIONS: &str = r#"
app = "standbys"
primary_region = "ams"

[processes]
  worker = "sleep 100000"

[mounts]
  source = "data"
  destination = "/data"
  initial_size = "3gb"
  processes = ["worker"]

[regions.worker]
  ams = 1
  ord = 2
"#;

    fn config(text: &str) -> Config {
        hangar_config::load_str(text, hangar_config::Format::Toml, None)
            .expect("fly.toml loads")
            .config
    }

    fn plan(config: &Config, machines: &[MachineRecord], ha: bool) -> Plan {
        let regions = ["ams".to_string(), "ord".to_string()];
        build(&PlanInput {
            config,
            image: "registry.example/app:v2",
            release_id: "rel_2",
            release_version: 2,
            machines,
            strategy: Strategy::Rolling,
            max_unavailable: 0.33,
            ha,
            restart_only: false,
            secrets_changed: false,
            secrets_version: 0,
            default_region: "ams",
            regions: &regions,
        })
        .expect("plan")
    }

    /// The Machines a plan creates, as (region, config, skip_launch).
    fn creates(plan: &Plan) -> Vec<(&str, &MachineConfig, bool)> {
        plan.steps
            .iter()
            .filter_map(|step| match &step.action {
                Action::Create {
                    region,
                    config,
                    skip_launch,
                    ..
                } => Some((region.as_str(), &**config, *skip_launch)),
                _ => None,
            })
            .collect()
    }

    /// The (region, watched Machine's region) of every standby created.
    fn standby_regions(plan: &Plan) -> Vec<(String, String)> {
        let region_of = |id: &str| {
            plan.steps.iter().find_map(|s| match &s.action {
                Action::Create {
                    machine_id, region, ..
                } if machine_id == id => Some(region.clone()),
                _ => None,
            })
        };
        let mut out: Vec<(String, String)> = creates(plan)
            .into_iter()
            .filter(|(_, config, _)| is_standby(config))
            .map(|(region, config, _)| {
                let watched = region_of(&config.standbys[0]).expect("watches a new Machine");
                (region.to_string(), watched)
            })
            .collect();
        out.sort();
        out
    }

    fn record(id: &str, region: &str, config: MachineConfig, state: MachineState) -> MachineRecord {
        MachineRecord {
            id: id.into(),
            app: "standbys".into(),
            name: id.into(),
            region: region.into(),
            instance_id: "01".into(),
            config,
            state,
            created_at: String::new(),
            updated_at: String::new(),
            ipv4: None,
            ipv6: None,
            image_ref: Default::default(),
            cordoned: false,
            task: None,
            versions: Vec::new(),
            recent_restarts: Vec::new(),
            checks: Vec::new(),
            last_exit: None,
            min_secrets_version: None,
        }
    }

    #[test]
    fn a_new_group_without_services_gets_a_stopped_standby_per_machine_in_each_region() {
        let config = config(WORKER_IN_TWO_REGIONS);
        let plan = plan(&config, &[], true);
        let created = creates(&plan);
        assert_eq!(created.len(), 6, "3 Machines and 3 standbys: {plan:#?}");
        for (_, config, skip_launch) in &created {
            assert_eq!(*skip_launch, is_standby(config), "standbys stay stopped");
            assert_eq!(config.mounts[0].size_gb, Some(3), "created at initial_size");
        }
        let pairs = |r: &str| (r.to_string(), r.to_string());
        assert_eq!(
            standby_regions(&plan),
            [pairs("ams"), pairs("ord"), pairs("ord")]
        );
        // Without --ha, none.
        let plan = super::tests::plan(&config, &[], false);
        assert!(standby_regions(&plan).is_empty(), "{plan:#?}");
    }

    #[test]
    fn machines_added_to_an_existing_group_by_regions_get_standbys_and_their_own_volumes() {
        // The first deploy had one Machine (with its volume) and its standby
        // in ams; [regions] now asks for two more in ord.
        let fly_toml = config(WORKER_IN_TWO_REGIONS);
        let mut active = fly_toml.to_machine_config("worker", None).unwrap();
        active.mounts[0].volume = "vol_ams_1".into();
        let mut spare = standby_config(active.clone(), vec!["m_active".into()]);
        spare.mounts[0].volume = "vol_ams_2".into();
        let machines = [
            record("m_active", "ams", active, MachineState::Started),
            record("m_spare", "ams", spare, MachineState::Stopped),
        ];
        let plan = plan(&fly_toml, &machines, true);
        let pairs = |r: &str| (r.to_string(), r.to_string());
        assert_eq!(standby_regions(&plan), [pairs("ord"), pairs("ord")]);
        for (region, config, skip_launch) in creates(&plan) {
            assert_eq!(region, "ord");
            assert_eq!(skip_launch, is_standby(config));
            let mount = &config.mounts[0];
            assert_eq!(mount.volume, "", "a new Machine claims its own volume");
            assert_eq!(mount.size_gb, Some(3), "created at initial_size");
        }
        // The existing standby follows the release and stays stopped.
        let kept = plan
            .steps
            .iter()
            .find(|s| s.action.machine_id() == "m_spare")
            .expect("the standby is updated");
        match &kept.action {
            Action::Update {
                new, skip_launch, ..
            } => {
                assert!(*skip_launch);
                assert_eq!(new.standbys, ["m_active"]);
                assert_eq!(new.image, "registry.example/app:v2");
            }
            other => panic!("standby: {other:?}"),
        }
    }
}
