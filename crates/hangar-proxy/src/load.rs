//! In-flight load per Machine, and the guard that releases it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

/// Load of one Machine.
#[derive(Debug, Default)]
pub(crate) struct MachineLoad {
    /// Requests (or upstream connections) in flight right now.
    in_flight: AtomicUsize,
    /// Requests begun since the last autostop pass.
    recent_requests: AtomicU64,
}

impl MachineLoad {
    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }

    /// Reads and clears the count of requests since the last call.
    pub(crate) fn take_recent_requests(&self) -> u64 {
        self.recent_requests.swap(0, Ordering::SeqCst)
    }
}

/// Load of every Machine, plus a signal raised whenever load drops.
#[derive(Debug, Default)]
pub(crate) struct LoadTracker {
    machines: Mutex<HashMap<String, Arc<MachineLoad>>>,
    /// Raised when a request finishes while requests wait for capacity.
    pub(crate) capacity_freed: Notify,
    /// Requests listening on `capacity_freed`; while there are none, a
    /// finishing request does not touch the notifier (and its lock).
    capacity_waiters: AtomicUsize,
}

/// A request listening for freed capacity, until dropped.
pub(crate) struct CapacityWatch<'a>(&'a LoadTracker);

impl Drop for CapacityWatch<'_> {
    fn drop(&mut self) {
        self.0.capacity_waiters.fetch_sub(1, Ordering::SeqCst);
    }
}

impl LoadTracker {
    pub(crate) fn get(&self, machine_id: &str) -> Arc<MachineLoad> {
        let mut machines = self.machines.lock().unwrap();
        if let Some(load) = machines.get(machine_id) {
            return load.clone();
        }
        machines.entry(machine_id.to_string()).or_default().clone()
    }

    /// Current in-flight count of a Machine (0 when never seen).
    pub(crate) fn in_flight(&self, machine_id: &str) -> usize {
        self.machines
            .lock()
            .unwrap()
            .get(machine_id)
            .map_or(0, |l| l.in_flight())
    }

    /// Every Machine seen so far with its in-flight count.
    pub(crate) fn snapshot(&self) -> Vec<(String, usize)> {
        let machines = self.machines.lock().unwrap();
        let mut all: Vec<_> = machines
            .iter()
            .map(|(id, l)| (id.clone(), l.in_flight()))
            .collect();
        all.sort();
        all
    }

    /// Forgets idle Machines that `keep` rejects (gone from the route table).
    pub(crate) fn prune(&self, keep: impl Fn(&str) -> bool) {
        self.machines
            .lock()
            .unwrap()
            .retain(|id, load| keep(id) || load.in_flight() > 0);
    }

    /// Starts listening for freed capacity: arm a `capacity_freed`
    /// listener after this and look at the loads again before waiting.
    pub(crate) fn watch_capacity(&self) -> CapacityWatch<'_> {
        self.capacity_waiters.fetch_add(1, Ordering::SeqCst);
        CapacityWatch(self)
    }

    /// Takes one slot on a Machine unless it is at `hard_limit`.
    pub(crate) fn try_acquire(
        self: &Arc<Self>,
        machine_id: &str,
        hard_limit: Option<usize>,
    ) -> Option<LoadGuard> {
        let load = self.get(machine_id);
        let limit = hard_limit.unwrap_or(usize::MAX);
        load.in_flight
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < limit).then_some(n + 1)
            })
            .ok()?;
        load.recent_requests.fetch_add(1, Ordering::SeqCst);
        Some(LoadGuard {
            load,
            tracker: self.clone(),
        })
    }
}

/// One in-flight request on a Machine; dropping it releases the slot.
#[derive(Debug)]
pub(crate) struct LoadGuard {
    load: Arc<MachineLoad>,
    tracker: Arc<LoadTracker>,
}

impl Drop for LoadGuard {
    fn drop(&mut self) {
        self.load.in_flight.fetch_sub(1, Ordering::SeqCst);
        if self.tracker.capacity_waiters.load(Ordering::SeqCst) > 0 {
            self.tracker.capacity_freed.notify_waiters();
        }
    }
}
