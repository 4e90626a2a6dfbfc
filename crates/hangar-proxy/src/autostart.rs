//! Starting Machines on demand, one start in flight per Machine.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::runtime::Handle;
use tokio::sync::watch;

use crate::control::MachineControl;
use crate::routes::RouteTable;

/// The outcome of one start, once known.
type StartOutcome = Option<Result<(), String>>;

/// Starts in flight, keyed by Machine id; every request waiting on the same
/// Machine shares one call to [`MachineControl::start`].
pub(crate) struct Autostarter {
    in_flight: Mutex<HashMap<String, watch::Receiver<StartOutcome>>>,
    /// Machines started successfully, with the route table generation
    /// current when the start returned. A start asked for from a snapshot
    /// no newer than that was decided before the start showed: it is not
    /// issued again.
    started_at_generation: Mutex<HashMap<String, u64>>,
    routes: watch::Receiver<Arc<RouteTable>>,
    /// The runtime of the proxy's host, where starts run: the host's
    /// [`MachineControl`] may spawn work of its own, which belongs there
    /// rather than on a connection worker.
    host: Option<Handle>,
}

impl Autostarter {
    /// Runs starts on the runtime the caller is in, if any (else on the
    /// runtime of whichever request asks first).
    pub(crate) fn on_current_runtime(routes: watch::Receiver<Arc<RouteTable>>) -> Autostarter {
        Autostarter {
            in_flight: Mutex::default(),
            started_at_generation: Mutex::default(),
            routes,
            host: Handle::try_current().ok(),
        }
    }
}

impl Autostarter {
    /// Starts `machine_id` unless a start is already in flight, then waits for
    /// the outcome. The start runs in its own task, so it completes even if
    /// every waiting request gives up. Returns whether this call issued it.
    /// `seen_generation` is the generation of the snapshot that showed the
    /// Machine stopped: when a start finished since that snapshot was
    /// current, the Machine is taken as started and nothing is issued.
    pub(crate) async fn start(
        self: &Arc<Self>,
        control: &Arc<dyn MachineControl>,
        app: &str,
        machine_id: &str,
        seen_generation: u64,
    ) -> (Result<(), String>, bool) {
        let (mut outcome, issued) = {
            let mut in_flight = self.in_flight.lock().unwrap();
            let already_started = self
                .started_at_generation
                .lock()
                .unwrap()
                .get(machine_id)
                .is_some_and(|started| seen_generation <= *started);
            if already_started {
                return (Ok(()), false);
            }
            match in_flight.get(machine_id) {
                Some(rx) => (rx.clone(), false),
                None => {
                    let (tx, rx) = watch::channel(None);
                    in_flight.insert(machine_id.to_string(), rx.clone());
                    let starter = self.clone();
                    let control = control.clone();
                    let (app, id) = (app.to_string(), machine_id.to_string());
                    let start = async move {
                        let result = control.start(&app, &id).await;
                        // Remove before publishing so a later start is a new
                        // one; note success under the same lock, so that a
                        // request that chose to start the Machine from an
                        // older snapshot finds it started.
                        let mut in_flight = starter.in_flight.lock().unwrap();
                        let mut started = starter.started_at_generation.lock().unwrap();
                        if result.is_ok() {
                            let table = starter.routes.borrow().clone();
                            // Forget Machines that are gone.
                            started.retain(|id, _| table.machines.iter().any(|m| &m.id == id));
                            started.insert(id.clone(), table.generation);
                        } else {
                            started.remove(&id);
                        }
                        in_flight.remove(&id);
                        drop((started, in_flight));
                        let _ = tx.send(Some(result));
                    };
                    match &self.host {
                        Some(host) => drop(host.spawn(start)),
                        None => drop(tokio::spawn(start)),
                    }
                    (rx, true)
                }
            }
        };
        let result = match outcome.wait_for(Option::is_some).await {
            Ok(done) => done.clone().unwrap_or(Ok(())),
            Err(_) => Err("the start task ended without an outcome".to_string()),
        };
        (result, issued)
    }
}
