//! Density: idle Machines created one after another until the target, a
//! failure or the time budget; host costs sampled along the way; then all
//! destroyed.

use std::time::{Duration, Instant};

use hangar_types::MachineState;

use super::MAX_CONSECUTIVE_FAILURES;
use crate::error::BenchError;
use crate::host::{MemInfo, ResourceProbe};
use crate::platform::{BenchPlatform, BRIDGE};
use crate::probe::poll_until;
use crate::stats::Samples;

/// How many Machines apart the host costs are sampled.
const CHECKPOINT_EVERY: usize = 50;

/// Host costs at a point of the density run.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    pub machines: usize,
    pub elapsed: Duration,
    pub mem_used_mib: f64,
    pub probe: ResourceProbe,
    /// Create+start latency of the Machines since the previous checkpoint.
    pub recent: Samples,
}

/// What the density run found.
#[derive(Debug)]
pub struct Density {
    pub target: usize,
    pub memory_mb: u32,
    /// Machines created and started.
    pub reached: usize,
    /// Of those, how many the API still reports started at the end.
    pub still_started: usize,
    pub elapsed: Duration,
    pub mem_before: MemInfo,
    pub mem_at_peak: MemInfo,
    pub mem_after_destroy: MemInfo,
    pub probe_before: ResourceProbe,
    pub probe_after_destroy: ResourceProbe,
    pub destroy_elapsed: Duration,
    pub checkpoints: Vec<Checkpoint>,
    /// Create+start latency of every Machine.
    pub create: Samples,
    /// Why creation stopped before the target, if it did.
    pub stopped_by: Option<String>,
    pub failures: Vec<String>,
}

/// Creates idle Machines of `memory_mb` until `target`, the first run of
/// failures or `budget`, then destroys them all.
pub async fn run(
    platform: &BenchPlatform,
    target: usize,
    memory_mb: u32,
    budget: Duration,
) -> Result<Density, BenchError> {
    let mem_before = MemInfo::read();
    let probe_before = ResourceProbe::sample(BRIDGE);
    let mut checkpoints = Vec::new();
    let mut create = Samples::default();
    let mut recent = Samples::default();
    let mut failures = Vec::new();
    let mut stopped_by = None;
    let mut consecutive_failures = 0;
    let mut reached = 0;
    let began = Instant::now();
    while reached < target {
        if began.elapsed() > budget {
            stopped_by = Some(format!("time budget of {budget:?} spent"));
            break;
        }
        let t0 = Instant::now();
        let config = BenchPlatform::config(&platform.idle_image, memory_mb);
        match platform.create_started(config).await {
            Ok(_) => {
                consecutive_failures = 0;
                reached += 1;
                create.push(t0.elapsed());
                recent.push(t0.elapsed());
            }
            Err(e) => {
                failures.push(format!("machine {}: {e}", reached + failures.len()));
                consecutive_failures += 1;
                if consecutive_failures >= MAX_CONSECUTIVE_FAILURES {
                    stopped_by = Some(format!(
                        "{MAX_CONSECUTIVE_FAILURES} creates failed in a row; last: {e}"
                    ));
                    break;
                }
            }
        }
        if reached > 0 && reached % CHECKPOINT_EVERY == 0 && consecutive_failures == 0 {
            let checkpoint = Checkpoint {
                machines: reached,
                elapsed: began.elapsed(),
                mem_used_mib: MemInfo::read().used_mib(),
                probe: ResourceProbe::sample(BRIDGE),
                recent: std::mem::take(&mut recent),
            };
            eprintln!(
                "  density: {} machines after {:.1}s, host memory used {:.0} MiB, {} bridge ports, {} fds, {} threads",
                checkpoint.machines,
                checkpoint.elapsed.as_secs_f64(),
                checkpoint.mem_used_mib,
                checkpoint.probe.bridge_ports,
                checkpoint.probe.open_fds,
                checkpoint.probe.threads
            );
            checkpoints.push(checkpoint);
        }
    }
    let elapsed = began.elapsed();
    let mem_at_peak = MemInfo::read();
    let still_started = platform
        .machines()
        .await?
        .iter()
        .filter(|m| m.state == MachineState::Started)
        .count();

    let destroy_began = Instant::now();
    let (_, errors) = platform.destroy_all().await?;
    failures.extend(errors.into_iter().map(|e| format!("cleanup: {e}")));
    // Destroy answers before the host side is gone; wait (bounded) for the
    // bridge ports to go back to what they were, so the memory reading after
    // is honest.
    let released = poll_until(
        "the bridge ports of destroyed Machines to go",
        Duration::from_secs(120),
        || async {
            match ResourceProbe::sample(BRIDGE).bridge_ports {
                n if n <= probe_before.bridge_ports => Ok(()),
                n => Err(format!(
                    "{n} ports left, {} before the run",
                    probe_before.bridge_ports
                )),
            }
        },
    )
    .await;
    if let Err(e) = released {
        failures.push(format!("cleanup: {e}"));
    }
    let destroy_elapsed = destroy_began.elapsed();
    Ok(Density {
        target,
        memory_mb,
        reached,
        still_started,
        elapsed,
        mem_before,
        mem_at_peak,
        mem_after_destroy: MemInfo::read(),
        probe_before,
        probe_after_destroy: ResourceProbe::sample(BRIDGE),
        destroy_elapsed,
        checkpoints,
        create,
        stopped_by,
        failures,
    })
}
