//! Stopping idle Machines (reference §6.3).

use std::collections::BTreeMap;
use std::sync::Arc;

use hangar_types::{AutostopMode, MachineState};

use crate::balance::Limits;
use crate::proxy::Proxy;

/// One started Machine as an autostop pass sees it.
struct Running {
    id: String,
    mode: AutostopMode,
    soft_limit: usize,
    in_flight: usize,
    /// No request began since the last pass and none is in flight.
    idle: bool,
    min_machines_running: usize,
}

/// Order of restrictiveness: with several services, the least wins.
fn rank(mode: AutostopMode) -> u8 {
    match mode {
        AutostopMode::Off => 0,
        AutostopMode::Stop => 1,
        AutostopMode::Suspend => 2,
    }
}

impl Proxy {
    /// Runs an autostop pass every `autostop_interval` until aborted.
    pub fn spawn_autostop(self: Arc<Self>) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(self.config.autostop_interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticks.tick().await;
            loop {
                ticks.tick().await;
                self.autostop_pass().await;
            }
        })
    }

    /// One autostop pass: per app and region, stops or suspends idle
    /// Machines beyond what the load needs (at most
    /// `autostop_max_per_pass`, Fly's default being one), keeping
    /// `min_machines_running` in the app's primary region. Returns the ids
    /// of the Machines it stopped or suspended.
    pub async fn autostop_pass(&self) -> Vec<String> {
        let table = self.routes.borrow().clone();
        let mut groups: BTreeMap<(String, String), Vec<Running>> = BTreeMap::new();
        for machine in &table.machines {
            // Read every Machine's recent count so each pass sees one interval.
            let recent = self.loads.get(&machine.id).take_recent_requests();
            if machine.state != MachineState::Started || machine.services.is_empty() {
                continue;
            }
            let mode = machine
                .services
                .iter()
                .map(|s| s.autostop.unwrap_or(AutostopMode::Off))
                .min_by_key(|m| rank(*m))
                .unwrap_or(AutostopMode::Off);
            let soft_limit = machine
                .services
                .iter()
                .map(|s| Limits::of(s).soft)
                .min()
                .unwrap_or(crate::balance::DEFAULT_SOFT_LIMIT);
            let min_machines_running = machine
                .services
                .iter()
                .filter_map(|s| s.min_machines_running)
                .filter_map(|n| usize::try_from(n).ok())
                .max()
                .unwrap_or(0);
            let in_flight = self.loads.in_flight(&machine.id);
            groups
                .entry((machine.app.clone(), machine.region.clone()))
                .or_default()
                .push(Running {
                    id: machine.id.clone(),
                    mode,
                    soft_limit,
                    in_flight,
                    idle: recent == 0 && in_flight == 0,
                    min_machines_running,
                });
        }

        let known: std::collections::HashSet<&str> =
            table.machines.iter().map(|m| m.id.as_str()).collect();
        self.loads.prune(|id| known.contains(id));

        let mut stopped = Vec::new();
        for ((app, region), running) in groups {
            let count = running.len();
            let over_soft = running
                .iter()
                .filter(|m| m.in_flight >= m.soft_limit)
                .count();
            let mut excess = if count > 1 {
                count.saturating_sub(over_soft + 1)
            } else {
                usize::from(running.iter().all(|m| m.in_flight == 0))
            };
            let primary = table.primary_region(&app).unwrap_or(&self.config.region);
            if region == primary {
                let keep = running
                    .iter()
                    .map(|m| m.min_machines_running)
                    .max()
                    .unwrap_or(0);
                excess = excess.min(count.saturating_sub(keep));
            }
            let mut idle: Vec<&Running> = running
                .iter()
                .filter(|m| m.idle && m.mode != AutostopMode::Off)
                .collect();
            idle.sort_by(|a, b| b.id.cmp(&a.id));
            let quota = excess.min(self.config.autostop_max_per_pass);
            for victim in idle.into_iter().take(quota) {
                let result = match victim.mode {
                    AutostopMode::Suspend => self.control.suspend(&app, &victim.id).await,
                    _ => self.control.stop(&app, &victim.id).await,
                };
                match result {
                    Ok(()) => {
                        tracing::info!(%app, %region, machine = %victim.id, mode = ?victim.mode, "autostopped idle Machine");
                        self.metrics.autostop(&app, &victim.id);
                        stopped.push(victim.id.clone());
                    }
                    Err(error) => {
                        tracing::warn!(%app, machine = %victim.id, %error, "autostop failed");
                    }
                }
            }
        }
        stopped
    }
}
