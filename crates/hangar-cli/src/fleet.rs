//! An app's fleet as the workflow commands see it: the app must exist, and
//! its Machines are grouped by process group.

use std::collections::BTreeMap;

use hangar_client::{Client, ListMachinesOptions};
use hangar_config::machine::{
    METADATA_LEGACY_PROCESS_GROUP, METADATA_PROCESS_GROUP, METADATA_RELEASE_VERSION,
};
use hangar_types::{App, Machine, MachineState};

use crate::error::CliError;

/// The app, or an error saying it does not exist and what to do.
pub(crate) async fn require_app(client: &Client, app: &str) -> anyhow::Result<App> {
    match client.get_app(app).await {
        Ok(found) => Ok(found),
        Err(err) if err.is_not_found() => Err(CliError::UnknownApp {
            app: app.to_string(),
        }
        .into()),
        Err(err) => Err(err.into()),
    }
}

/// The app's Machines that are not destroyed, after checking the app exists.
pub(crate) async fn machines(client: &Client, app: &str) -> anyhow::Result<Vec<Machine>> {
    require_app(client, app).await?;
    let mut machines = client
        .list_machines(app, &ListMachinesOptions::default())
        .await?;
    machines.retain(|m| !matches!(m.state, MachineState::Destroyed | MachineState::Destroying));
    Ok(machines)
}

/// A Machine's process group (`app` when it names none).
pub(crate) fn group_of(machine: &Machine) -> String {
    let metadata = &machine.config.metadata;
    metadata
        .get(METADATA_PROCESS_GROUP)
        .or_else(|| metadata.get(METADATA_LEGACY_PROCESS_GROUP))
        .filter(|group| !group.is_empty())
        .cloned()
        .unwrap_or_else(|| hangar_config::DEFAULT_GROUP.to_string())
}

/// The release version a Machine runs, if a deploy stamped one.
pub(crate) fn release_of(machine: &Machine) -> Option<&str> {
    machine
        .config
        .metadata
        .get(METADATA_RELEASE_VERSION)
        .map(String::as_str)
}

/// Machines by process group, groups in name order, Machines by id.
pub(crate) fn by_group(machines: Vec<Machine>) -> BTreeMap<String, Vec<Machine>> {
    let mut groups: BTreeMap<String, Vec<Machine>> = BTreeMap::new();
    for machine in machines {
        groups.entry(group_of(&machine)).or_default().push(machine);
    }
    for members in groups.values_mut() {
        members.sort_by(|a, b| a.id.cmp(&b.id));
    }
    groups
}

/// `passing/total` of a Machine's checks, blank without checks.
pub(crate) fn checks_summary(machine: &Machine) -> String {
    if machine.checks.is_empty() {
        return String::new();
    }
    let passing = machine
        .checks
        .iter()
        .filter(|check| check.status == "passing")
        .count();
    format!("{} total, {passing} passing", machine.checks.len())
}
