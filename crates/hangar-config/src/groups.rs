//! Process groups: their names, the default group, and which entries target which group.
//!
//! Targeting rules (flyctl's, kept for compatibility; see docs/config.md): an entry with a
//! `processes` list applies to those groups. An entry without one applies to the default group
//! only, except `[[vm]]`, `[[files]]` and `[[statics]]`, which apply to every group. For `[[vm]]` the
//! first entry naming the group wins over a generic one, and the two are never merged.

use crate::model::{
    Compute, Config, File, HttpService, MachineCheck, Metrics, Mount, Restart, Service,
    TopLevelCheck,
};

/// Group used when there is no `[processes]` section.
pub const DEFAULT_GROUP: &str = "app";

impl Config {
    /// Group names, sorted; `["app"]` without `[processes]`.
    pub fn process_names(&self) -> Vec<String> {
        if self.processes.is_empty() {
            return vec![DEFAULT_GROUP.to_string()];
        }
        self.processes.keys().cloned().collect()
    }

    /// `app` if it is a group, else the first name in sorted order; empty for a config that
    /// failed to normalize.
    pub fn default_process_group(&self) -> String {
        if self.parse_error.is_some() {
            return String::new();
        }
        if self.processes.is_empty() || self.processes.contains_key(DEFAULT_GROUP) {
            return DEFAULT_GROUP.to_string();
        }
        self.processes.keys().next().cloned().unwrap_or_default()
    }

    /// Group names formatted for messages: `['web', 'worker']`.
    pub fn format_process_names(&self) -> String {
        let quoted: Vec<String> = self
            .process_names()
            .iter()
            .map(|n| format!("'{n}'"))
            .collect();
        format!("[{}]", quoted.join(", "))
    }

    /// Whether `[processes]` defines at least one group.
    pub fn has_process_groups(&self) -> bool {
        !self.processes.is_empty()
    }

    /// The machine checks a deploy runs against a Machine of `group` ("" = the default group):
    /// those of `[http_service]` and `[[services]]` targeting the group, then the top-level
    /// `[[machine_checks]]` (which apply to every group).
    pub fn machine_checks_of(&self, group: &str) -> Vec<&MachineCheck> {
        let flat = self.flatten(group);
        flat.http_service
            .into_iter()
            .flat_map(|h| h.machine_checks.iter())
            .chain(
                flat.services
                    .iter()
                    .flat_map(|(_, s)| s.machine_checks.iter()),
            )
            .chain(self.machine_checks.iter())
            .collect()
    }

    /// Desired Machine count per region for `group` ("" = the default group) from the `[regions]`
    /// extension; empty without `[regions]`.
    pub fn desired_region_counts(&self, group: &str) -> std::collections::BTreeMap<String, i64> {
        let default_group = self.default_process_group();
        let group = if group.is_empty() {
            default_group.as_str()
        } else {
            group
        };
        self.regions
            .as_ref()
            .map(|regions| regions.counts_for(group, group == default_group))
            .unwrap_or_default()
    }

    /// The entries that apply to `group` ("" = the default group).
    pub fn flatten(&self, group: &str) -> Flattened<'_> {
        let default_group = self.default_process_group();
        let group = if group.is_empty() {
            default_group.clone()
        } else {
            group.to_string()
        };
        let is_default = group == default_group;
        let targets = |processes: &[String]| {
            if processes.is_empty() {
                is_default
            } else {
                processes.contains(&group)
            }
        };
        let vm = self
            .vm
            .iter()
            .enumerate()
            .find(|(_, c)| c.processes.contains(&group))
            .or_else(|| {
                self.vm
                    .iter()
                    .enumerate()
                    .find(|(_, c)| c.processes.is_empty())
            });
        let host_dedication_id = vm
            .and_then(|(_, c)| c.host_dedication_id.as_deref())
            .or(self.host_dedication_id.as_deref())
            .filter(|id| !id.is_empty());
        Flattened {
            http_service: self.http_service.as_ref().filter(|h| targets(&h.processes)),
            services: self
                .services
                .iter()
                .enumerate()
                .filter(|(_, s)| targets(&s.processes))
                .collect(),
            checks: self
                .checks
                .iter()
                .filter(|(_, c)| targets(&c.processes))
                .map(|(n, c)| (n.as_str(), c))
                .collect(),
            mounts: self
                .mounts
                .iter()
                .enumerate()
                .filter(|(_, m)| targets(&m.processes))
                .collect(),
            files: self
                .files
                .iter()
                .enumerate()
                .filter(|(_, f)| f.processes.is_empty() || f.processes.contains(&group))
                .collect(),
            metrics: self
                .metrics
                .iter()
                .enumerate()
                .find(|(_, m)| targets(&m.processes)),
            restart: self
                .restart
                .iter()
                .enumerate()
                .rfind(|(_, r)| targets(&r.processes)),
            vm,
            host_dedication_id,
            is_default,
            group,
        }
    }
}

/// The parts of a config that apply to one process group, each with its index in the config.
#[derive(Debug, Clone)]
pub struct Flattened<'a> {
    /// Group name (never empty).
    pub group: String,
    /// Whether this is the default group.
    pub is_default: bool,
    /// `[http_service]` if it targets the group.
    pub http_service: Option<&'a HttpService>,
    /// `[[services]]` targeting the group.
    pub services: Vec<(usize, &'a Service)>,
    /// `[checks.*]` targeting the group.
    pub checks: Vec<(&'a str, &'a TopLevelCheck)>,
    /// `[[mounts]]` targeting the group (more than one is a validation error).
    pub mounts: Vec<(usize, &'a Mount)>,
    /// `[[files]]` for the group.
    pub files: Vec<(usize, &'a File)>,
    /// First `[[metrics]]` targeting the group.
    pub metrics: Option<(usize, &'a Metrics)>,
    /// Last `[[restart]]` targeting the group.
    pub restart: Option<(usize, &'a Restart)>,
    /// The `[[vm]]` for the group: the first naming it, else the first generic one.
    pub vm: Option<(usize, &'a Compute)>,
    /// Effective dedicated-host id: the group's `[[vm]]` value, else the top-level one.
    pub host_dedication_id: Option<&'a str>,
}

impl Flattened<'_> {
    /// Size in GB of a volume created for the group's mount: its
    /// `initial_size`, when set and at least 1 GB.
    pub fn initial_volume_size_gb(&self) -> Option<i64> {
        let (_, mount) = self.mounts.first()?;
        crate::units::parse_decimal_size_gb(mount.initial_size.as_deref()?)
            .ok()
            .filter(|gb| *gb >= 1)
    }
}

#[cfg(test)]
mod tests {
    use crate::{load_str, Format};

    #[test]
    fn initial_volume_size_comes_from_the_groups_mount() {
        let text = "app = \"a\"\n[processes]\n  web = \"w\"\n  db = \"d\"\n\
                    [mounts]\n  source = \"data\"\n  destination = \"/data\"\n  \
                    initial_size = \"10gb\"\n  processes = [\"db\"]\n";
        let config = load_str(text, Format::Toml, None).unwrap().config;
        assert_eq!(config.flatten("db").initial_volume_size_gb(), Some(10));
        assert_eq!(config.flatten("web").initial_volume_size_gb(), None);
    }
}
