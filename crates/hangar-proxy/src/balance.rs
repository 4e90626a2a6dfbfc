//! Choosing a Machine for a request (Fly Proxy's rules, reference §6.2).

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;

use hangar_types::{MachinePort, MachineService};
use rand::Rng;

use crate::load::{LoadGuard, LoadTracker};
use crate::placement::Placement;
use crate::routes::{MachineRoute, RouteTable};

/// Default concurrency soft limit when a service sets none.
pub(crate) const DEFAULT_SOFT_LIMIT: usize = 20;

/// Concurrency limits of a service, with defaults applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    pub(crate) soft: usize,
    pub(crate) hard: Option<usize>,
    /// `type = "requests"`: upstream connections may be reused.
    pub(crate) per_request: bool,
}

impl Limits {
    pub(crate) fn of(service: &MachineService) -> Limits {
        let concurrency = service.concurrency.as_ref();
        let as_limit = |v: Option<i64>| v.and_then(|v| usize::try_from(v).ok());
        Limits {
            soft: as_limit(concurrency.and_then(|c| c.soft_limit)).unwrap_or(DEFAULT_SOFT_LIMIT),
            hard: as_limit(concurrency.and_then(|c| c.hard_limit)),
            per_request: concurrency.and_then(|c| c.kind.as_deref()) == Some("requests"),
        }
    }
}

/// A Machine chosen for a request, with the slot it holds there.
#[derive(Debug)]
pub(crate) struct Target {
    pub(crate) machine_id: String,
    pub(crate) upstream: SocketAddr,
    pub(crate) per_request: bool,
    /// Speak h2c to the Machine (`http_options.h2_backend`).
    pub(crate) h2_backend: bool,
    pub(crate) guard: LoadGuard,
}

/// What the balancer decided.
#[derive(Debug)]
pub(crate) enum Choice {
    /// Send the request here.
    Route(Target),
    /// No started Machine is below its soft limit: start this one.
    Start(MachineRoute),
    /// Every candidate is at its hard limit: wait for capacity.
    AllAtHardLimit,
    /// No started, healthy Machine has the service and none can be started.
    NoCandidate,
}

/// One request's view for choosing.
pub(crate) struct Request<'a> {
    pub(crate) app: &'a str,
    pub(crate) public_port: u16,
    pub(crate) local_region: &'a str,
    /// Machines already tried (connection failed).
    pub(crate) excluded: &'a HashSet<String>,
    /// Machines this proxy started whose start the route table may not show yet.
    pub(crate) started_locally: &'a HashSet<String>,
    /// Regions and Machines the client asked for.
    pub(crate) placement: &'a Placement,
}

struct Candidate<'a> {
    route: &'a MachineRoute,
    upstream: SocketAddr,
    limits: Limits,
    h2_backend: bool,
    load: usize,
}

/// Finds the service (and its port) a Machine offers on a public port for
/// one kind of traffic: [`MachineRoute::http_service`] for HTTP, or the raw
/// TCP lookup of the TCP listener.
pub(crate) type ServiceOf =
    for<'r> fn(&'r MachineRoute, u16) -> Option<(&'r MachineService, &'r MachinePort)>;

/// Picks a Machine among those whose `service_of` matches: the client's
/// preferred one if it has room, else least loaded below soft limit,
/// closest region first (a local Machine over its soft limit beats a remote
/// one); never one at its hard limit.
pub(crate) fn choose_for(
    table: &RouteTable,
    loads: &Arc<LoadTracker>,
    request: &Request<'_>,
    service_of: ServiceOf,
) -> Choice {
    let mut candidates = Vec::new();
    let mut autostart = false;
    for route in table.machines.iter().filter(|m| m.app == request.app) {
        if request.excluded.contains(&route.id) || !request.placement.allows(route) {
            continue;
        }
        let Some((service, port)) = service_of(route, request.public_port) else {
            continue;
        };
        autostart |= service.autostart.unwrap_or(true);
        let started_here =
            request.started_locally.contains(&route.id) && !route.cordoned && route.checks_passing;
        if !(route.is_routable() || started_here) {
            continue;
        }
        let Ok(internal_port) = u16::try_from(service.internal_port) else {
            continue;
        };
        candidates.push(Candidate {
            route,
            upstream: SocketAddr::new(route.address, internal_port),
            limits: Limits::of(service),
            h2_backend: port
                .http_options
                .as_ref()
                .and_then(|o| o.h2_backend)
                .unwrap_or(false),
            load: loads.in_flight(&route.id),
        });
    }

    let placement = request.placement;
    let mut rng = rand::rng();
    let mut keyed: Vec<_> = candidates
        .iter()
        .map(|c| {
            let preferred = placement.is_preferred(c.route);
            let rank = placement.region_rank(&c.route.region, request.local_region);
            let over_soft = c.load >= c.limits.soft;
            (
                (!preferred, rank, over_soft, c.load, rng.random::<u32>()),
                c,
            )
        })
        .collect();
    keyed.sort_by_key(|(key, _)| *key);

    let route_to = |c: &Candidate<'_>| {
        loads.try_acquire(&c.route.id, c.limits.hard).map(|guard| {
            Choice::Route(Target {
                machine_id: c.route.id.clone(),
                upstream: c.upstream,
                per_request: c.limits.per_request,
                h2_backend: c.h2_backend,
                guard,
            })
        })
    };
    // A preferred Machine below its hard limit wins over autostart.
    if let Some((_, c)) = keyed
        .first()
        .filter(|(_, c)| placement.is_preferred(c.route))
    {
        if let Some(choice) = route_to(c) {
            return choice;
        }
    }
    let any_below_soft = candidates.iter().any(|c| c.load < c.limits.soft);
    if !any_below_soft && autostart {
        if let Some(route) = startable(table, request, service_of) {
            return Choice::Start(route.clone());
        }
    }
    for (_, c) in &keyed {
        if let Some(choice) = route_to(c) {
            return choice;
        }
    }
    if candidates.is_empty() {
        Choice::NoCandidate
    } else {
        Choice::AllAtHardLimit
    }
}

/// The stopped or suspended Machine to wake: local region first, then by id
/// so that concurrent requests pick the same one.
fn startable<'t>(
    table: &'t RouteTable,
    request: &Request<'_>,
    service_of: ServiceOf,
) -> Option<&'t MachineRoute> {
    table
        .machines
        .iter()
        .filter(|m| m.app == request.app && m.is_startable() && request.placement.allows(m))
        .filter(|m| !request.excluded.contains(&m.id) && !request.started_locally.contains(&m.id))
        .filter(|m| {
            service_of(m, request.public_port).is_some_and(|(s, _)| s.autostart.unwrap_or(true))
        })
        .min_by_key(|m| {
            let placement = request.placement;
            (
                !placement.is_preferred(m),
                placement.region_rank(&m.region, request.local_region),
                m.id.clone(),
            )
        })
}
