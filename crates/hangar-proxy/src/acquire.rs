//! Getting a Machine for one request or connection: balance, autostart,
//! queue at hard limits, wait for a healthy Machine, and retry elsewhere
//! when connecting fails. Shared by the HTTP and raw TCP paths, which differ
//! only in how a Machine's service is looked up ([`ServiceKind`]).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::balance::{self, Choice, ServiceOf, Target};
use crate::error::ProxyErrorCode;
use crate::placement::Placement;
use crate::proxy::{next_snapshot, Proxy, QueueSlot, MAX_STARTS_PER_REQUEST};
use crate::routes::{MachineRoute, RouteTable};

/// How one kind of traffic finds its service on a Machine.
#[derive(Clone, Copy)]
pub(crate) struct ServiceKind {
    /// The service (and port) a Machine offers on a public port.
    pub(crate) lookup: ServiceOf,
    /// The error when no Machine became healthy in time.
    pub(crate) none_healthy: fn(app: &str, public_port: u16) -> ProxyErrorCode,
}

/// HTTP requests: ports with an `http` handler.
pub(crate) const HTTP: ServiceKind = ServiceKind {
    lookup: MachineRoute::http_service,
    none_healthy: |app, _| ProxyErrorCode::NoHealthyMachine(app.to_string()),
};

/// The state of getting a Machine for one request or connection, kept
/// across retries (and replays) so that limits and deadlines hold for the
/// whole request.
pub(crate) struct Acquirer<'p> {
    proxy: &'p Proxy,
    public_port: u16,
    kind: ServiceKind,
    queue_deadline: Instant,
    health_deadline: Instant,
    /// Machines not to use again (connecting failed, or replayed away from).
    pub(crate) excluded: HashSet<String>,
    attempts: usize,
    starts: usize,
    wake_retries: u32,
    queue_slot: Option<QueueSlot<'p>>,
}

impl<'p> Acquirer<'p> {
    /// Starts the clocks of the queue and health waits.
    pub(crate) fn new(proxy: &'p Proxy, public_port: u16, kind: ServiceKind) -> Acquirer<'p> {
        let now = Instant::now();
        Acquirer {
            proxy,
            public_port,
            kind,
            queue_deadline: now + proxy.config.queue_timeout,
            health_deadline: now + proxy.config.healthy_machine_wait,
            excluded: HashSet::new(),
            attempts: 0,
            starts: 0,
            wake_retries: 0,
            queue_slot: None,
        }
    }

    /// A Machine of `app` with room for one more request or connection
    /// (its slot held by the target), and the snapshot it was chosen from.
    /// Starts a Machine, waits in the queue or for a healthy Machine as
    /// Fly's rules say.
    pub(crate) async fn acquire(
        &mut self,
        app: &str,
        placement: &Placement,
    ) -> Result<(Target, Arc<RouteTable>), ProxyErrorCode> {
        let proxy = self.proxy;
        // Listening for freed capacity costs every finishing request a lock
        // on a shared notifier, so it starts only once every Machine was
        // found at its hard limit; the choice is then made again with the
        // listener armed, so no release between choosing and waiting is
        // missed.
        let mut capacity_watch = None;
        loop {
            let mut routes = proxy.routes.clone();
            let capacity_freed = proxy.loads.capacity_freed.notified();
            tokio::pin!(capacity_freed);
            if capacity_watch.is_some() {
                capacity_freed.as_mut().enable();
            }
            let table = routes.borrow_and_update().clone();
            let started_locally = proxy.started_locally(&table);
            let choice = balance::choose_for(
                &table,
                &proxy.loads,
                &balance::Request {
                    app,
                    public_port: self.public_port,
                    local_region: &proxy.config.region,
                    excluded: &self.excluded,
                    started_locally: &started_locally,
                    placement,
                },
                self.kind.lookup,
            );
            match choice {
                Choice::Route(target) => return Ok((target, table)),
                Choice::Start(route) => {
                    self.starts += 1;
                    if self.starts > MAX_STARTS_PER_REQUEST {
                        return Err(ProxyErrorCode::NoHealthyMachine(app.to_string()));
                    }
                    proxy.autostart(app, &route, table.generation).await?;
                }
                Choice::AllAtHardLimit => {
                    if self.queue_slot.is_none() {
                        self.queue_slot = Some(proxy.enter_queue(app)?);
                    }
                    if capacity_watch.is_none() {
                        capacity_watch = Some(proxy.loads.watch_capacity());
                        continue;
                    }
                    tokio::select! {
                        _ = capacity_freed => {}
                        _ = next_snapshot(&mut routes) => {}
                        _ = tokio::time::sleep_until(self.queue_deadline) => {
                            return Err(ProxyErrorCode::CapacityTimeout(app.to_string()));
                        }
                    }
                }
                Choice::NoCandidate if self.excluded.is_empty() => {
                    // Like Fly, wait a while for a Machine to become healthy
                    // (a restart or deploy in progress) before giving up.
                    if Instant::now() >= self.health_deadline {
                        return Err((self.kind.none_healthy)(app, self.public_port));
                    }
                    if self.queue_slot.is_none() {
                        self.queue_slot = Some(proxy.enter_queue(app)?);
                    }
                    tokio::select! {
                        _ = next_snapshot(&mut routes) => {}
                        _ = tokio::time::sleep_until(self.health_deadline) => {}
                    }
                }
                Choice::NoCandidate => {
                    return Err(ProxyErrorCode::RetriesExhausted(app.to_string()));
                }
            }
        }
    }

    /// How long connecting to `machine_id` may take on this attempt (see
    /// [`Proxy::connect_timeout`]).
    pub(crate) fn connect_timeout(&self, machine_id: &str) -> Duration {
        self.proxy.connect_timeout(machine_id, self.wake_retries)
    }

    /// Connecting to `machine_id` failed: waits a little when the Machine
    /// was woken moments ago (it may not listen yet), else excludes it.
    /// Errs once too many Machines failed.
    pub(crate) async fn connect_failed(
        &mut self,
        app: &str,
        machine_id: String,
        reason: &str,
    ) -> Result<(), ProxyErrorCode> {
        self.proxy.metrics.connect_failure(app, &machine_id);
        if let Some(backoff) = self.proxy.still_waking(&machine_id, self.wake_retries) {
            tracing::debug!(%app, machine = %machine_id, %reason, "woken Machine not listening yet");
            self.wake_retries += 1;
            tokio::time::sleep(backoff).await;
            return Ok(());
        }
        tracing::debug!(%app, machine = %machine_id, %reason, "connect failed, trying another Machine");
        self.excluded.insert(machine_id);
        self.attempts += 1;
        if self.attempts >= self.proxy.config.max_connect_attempts {
            return Err(ProxyErrorCode::RetriesExhausted(app.to_string()));
        }
        Ok(())
    }
}
