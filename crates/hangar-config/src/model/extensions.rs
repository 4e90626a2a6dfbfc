//! Hangar's documented extension tables (see docs/config.md): app-wide autostop/autostart
//! defaults and desired Machine counts per region.

use std::collections::BTreeMap;

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use super::AutoStop;

/// `[auto_stop_machines]`: applied to every service that does not set its own value.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct AutoStopDefaults {
    /// `true`/`false` or `"off"`/`"stop"`/`"suspend"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<AutoStop>,
    /// Machines kept running.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_machines_running: Option<i64>,
}

/// `[auto_start_machines]`: applied to every service that does not set its own value.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct AutoStartDefaults {
    /// Start Machines on demand.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

/// `[regions]`: `region = count` for the default group, `[regions.<group>]` for other groups.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Regions {
    /// Desired counts for the default process group.
    pub default_group: BTreeMap<String, i64>,
    /// Desired counts for named groups.
    pub groups: BTreeMap<String, BTreeMap<String, i64>>,
}

impl Regions {
    /// Desired Machine count per region for `group`; `is_default` says whether `group` is the
    /// default group (which also receives the bare `region = count` entries).
    pub fn counts_for(&self, group: &str, is_default: bool) -> BTreeMap<String, i64> {
        let mut counts = if is_default {
            self.default_group.clone()
        } else {
            BTreeMap::new()
        };
        if let Some(specific) = self.groups.get(group) {
            counts.extend(specific.iter().map(|(r, c)| (r.clone(), *c)));
        }
        counts
    }
}

impl Serialize for Regions {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map =
            serializer.serialize_map(Some(self.default_group.len() + self.groups.len()))?;
        for (region, count) in &self.default_group {
            map.serialize_entry(region, count)?;
        }
        for (group, counts) in &self.groups {
            map.serialize_entry(group, counts)?;
        }
        map.end()
    }
}
