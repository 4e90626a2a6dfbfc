//! The edge proxy against nginx and HAProxy: one backend Machine (the
//! example app), reached directly (the baseline) and through each proxy in
//! the same run; saturation with wrk, then one fixed rate, half of the
//! slowest proxy's saturation rate, for every target with the open-loop
//! generator. Each proxy's CPU time is read from /proc around every load
//! run (see [`crate::cpu_time`]).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use hangar_types::MachineState;

use crate::backend;
use crate::cpu_time::{ticks_to_duration, CpuPerRequest, CpuSubject};
use crate::edge::BenchEdge;
use crate::error::BenchError;
use crate::load::open_loop::{self, RateShape};
use crate::load::wrk::{self, WrkShape};
use crate::load::LoadResult;
use crate::peers::server::ServerProcess;
use crate::peers::{haproxy, nginx};
use crate::platform::{BenchPlatform, APP, REGION};
use crate::probe::wait_http;

/// How long the backend may take to answer after it was created.
const BACKEND_TIMEOUT: Duration = Duration::from_secs(30);
/// The unrecorded wrk run that warms every target's connection pools.
const WARM_UP: Duration = Duration::from_secs(1);

/// The example app in a Machine behind the Hangar edge proxy: what the
/// proxy and cold-start scenarios measure.
pub struct EdgeSetup {
    pub machine_id: String,
    /// The Machine's own address (port 8080 on its private IPv4).
    pub backend: SocketAddr,
    pub edge: BenchEdge,
}

impl EdgeSetup {
    /// Builds the example image from the `hangar` binary, creates the
    /// backend Machine (`cpus` dedicated CPUs) and starts the edge proxy
    /// with `proxy_workers` connection workers (and its lean HTTP/1.1 path
    /// unless `lean_http1` is false).
    pub async fn start(
        platform: &BenchPlatform,
        hangar: &Path,
        work: &Path,
        cpus: u32,
        proxy_workers: usize,
        lean_http1: bool,
    ) -> Result<EdgeSetup, BenchError> {
        let image = backend::example_image(hangar, &work.join("example"))?;
        let machine = platform
            .create_started(backend::machine_config(&image, cpus, 256))
            .await?;
        let ip = machine
            .private_ipv4
            .as_deref()
            .and_then(|ip| ip.parse::<std::net::Ipv4Addr>().ok())
            .ok_or_else(|| BenchError::WaitTimeout {
                what: "a private IPv4 address".into(),
                timeout: BACKEND_TIMEOUT,
                last: format!("machine {} has none", machine.id),
            })?;
        let backend = SocketAddr::from((ip, backend::PORT));
        wait_http(backend, BACKEND_TIMEOUT).await?;
        let edge = BenchEdge::start(platform.agent(), REGION, proxy_workers, lean_http1).await?;
        if let Err(e) = edge
            .wait_route_state(&machine.id, MachineState::Started, BACKEND_TIMEOUT)
            .await
        {
            edge.stop();
            return Err(e);
        }
        Ok(EdgeSetup {
            machine_id: machine.id,
            backend,
            edge,
        })
    }

    /// Stops the proxy and destroys the backend Machine.
    pub async fn stop(self, platform: &BenchPlatform) -> Result<(), BenchError> {
        self.edge.stop();
        platform.destroy(&self.machine_id).await
    }
}

/// How the proxy scenario loads each target.
#[derive(Debug, Clone)]
pub struct ProxyOptions {
    /// nginx workers and HAProxy threads.
    pub workers: usize,
    /// The Hangar proxy's connection workers (0: the benchmark's runtime,
    /// of `workers` threads).
    pub proxy_workers: usize,
    /// The Hangar proxy serves plain HTTP/1.1 on its lean path.
    pub lean_http1: bool,
    pub wrk_threads: usize,
    pub connections: usize,
    /// Of each saturation run and each half-load run.
    pub duration: Duration,
    pub nginx: bool,
    pub haproxy: bool,
}

/// One target's measurements.
#[derive(Debug, Clone)]
pub struct TargetRun {
    pub name: &'static str,
    pub note: String,
    pub saturation: Option<LoadResult>,
    pub half_load: Option<LoadResult>,
    /// The proxy's CPU time over the saturation run (its warm-up included)
    /// and the requests wrk counted in both; `None` for `direct`.
    pub saturation_cpu: Option<CpuPerRequest>,
    /// The proxy's CPU time over the half-load run.
    pub half_load_cpu: Option<CpuPerRequest>,
    /// A peer server's CPU time from its start until just before it was
    /// stopped.
    pub lifetime_cpu: Option<Duration>,
}

/// Everything the proxy scenario measured.
#[derive(Debug, Default)]
pub struct ProxyRun {
    /// `direct` first, then the proxies.
    pub targets: Vec<TargetRun>,
    /// The fixed rate of the half-load runs, and whose saturation it halves.
    pub half_rate: f64,
    pub half_rate_of: &'static str,
    pub options: Option<ProxyOptions>,
    pub failures: Vec<String>,
}

/// A target's address, the Host header it is sent, and its process.
struct Target {
    name: &'static str,
    note: String,
    addr: SocketAddr,
    server: Option<ServerProcess>,
    /// Whose CPU time is the proxy's; `None` for `direct`.
    cpu: Option<CpuSubject>,
}

/// The Hangar proxy's threads: its connection workers, or the benchmark's
/// runtime threads when it has none.
fn hangar_threads(proxy_workers: usize) -> CpuSubject {
    match proxy_workers {
        0 => CpuSubject::OwnThreads(crate::RUNTIME_THREAD_NAME),
        _ => CpuSubject::OwnThreads("hangar-proxy-"),
    }
}

/// A reading of `target`'s CPU ticks; `None` for `direct`, or a failure
/// recorded in `failures`.
fn read_cpu(target: &Target, when: &str, failures: &mut Vec<String>) -> Option<u64> {
    let subject = target.cpu.as_ref()?;
    subject
        .ticks()
        .map_err(|e| {
            failures.push(format!(
                "{} CPU time {when}: cannot read /proc: {e}",
                target.name
            ))
        })
        .ok()
}

/// Measures the backend directly and through each proxy.
pub async fn run(setup: &EdgeSetup, work: &Path, options: &ProxyOptions) -> ProxyRun {
    let mut run = ProxyRun {
        options: Some(options.clone()),
        ..Default::default()
    };
    let mut targets = vec![
        Target {
            name: "direct",
            note: format!("the Machine's own address {}", setup.backend),
            addr: setup.backend,
            server: None,
            cpu: None,
        },
        Target {
            name: "hangar",
            note: match options.proxy_workers {
                0 => format!(
                    "in-process, connections on the benchmark's runtime of {} worker threads \
                     (its CPU: all `{}` threads, which also run the platform)",
                    options.workers,
                    crate::RUNTIME_THREAD_NAME
                ),
                n => format!(
                    "in-process as in `hangar dev`, {n} connection workers \
                     (its CPU: the `hangar-proxy-N` threads)"
                ),
            } + if options.lean_http1 {
                ", lean HTTP/1.1 path"
            } else {
                ", hyper only (`--proxy-http1 hyper`)"
            },
            addr: setup.edge.addr,
            server: None,
            cpu: Some(hangar_threads(options.proxy_workers)),
        },
    ];
    let peers: [(bool, &'static str, String); 2] = [
        (
            options.nginx,
            "nginx",
            format!("{} worker processes, upstream keepalive", options.workers),
        ),
        (
            options.haproxy,
            "haproxy",
            format!("nbthread {}, http-reuse always", options.workers),
        ),
    ];
    for (wanted, name, note) in peers {
        if !wanted {
            continue;
        }
        match start_peer(name, work, setup.backend, options.workers).await {
            Ok(server) => targets.push(Target {
                name,
                note,
                addr: server.addr,
                cpu: server.pid().map(CpuSubject::ProcessTree),
                server: Some(server),
            }),
            Err(e) => run.failures.push(format!("{name}: cannot start: {e}")),
        }
    }
    let host = BenchEdge::host_of(APP);
    let shape = WrkShape {
        threads: options.wrk_threads,
        connections: options.connections,
        duration: options.duration,
    };
    let mut results: Vec<TargetRun> = Vec::new();
    for target in &targets {
        eprintln!("proxy: saturating {} ({})", target.name, target.addr);
        let warm = WrkShape {
            duration: WARM_UP,
            ..shape
        };
        let before = read_cpu(target, "before saturation", &mut run.failures);
        let (saturation, warm_requests) = match wrk::saturate(target.addr, &host, warm).await {
            Ok(w) => (wrk::saturate(target.addr, &host, shape).await, w.requests),
            Err(e) => (Err(e), 0),
        };
        let after = read_cpu(target, "after saturation", &mut run.failures);
        let saturation_cpu = match (before, after, &saturation) {
            (Some(b), Some(a), Ok(r)) => {
                Some(CpuPerRequest::between(b, a, warm_requests + r.requests))
            }
            _ => None,
        };
        results.push(TargetRun {
            name: target.name,
            note: target.note.clone(),
            saturation: saturation
                .map_err(|e| {
                    run.failures
                        .push(format!("{} saturation: {e}", target.name))
                })
                .ok(),
            half_load: None,
            saturation_cpu,
            half_load_cpu: None,
            lifetime_cpu: None,
        });
    }
    let reference = half_load_reference(&results);
    if let Some((name, rate)) = reference {
        run.half_rate = (rate / 2.0).round();
        run.half_rate_of = name;
        let shape = RateShape {
            rate: run.half_rate,
            connections: options.connections,
            duration: options.duration,
        };
        for (target, result) in targets.iter().zip(results.iter_mut()) {
            eprintln!(
                "proxy: {} at {:.0} requests/s (half of {name}'s saturation rate)",
                target.name, run.half_rate
            );
            let before = read_cpu(target, "before half load", &mut run.failures);
            match open_loop::run(target.addr, &host, shape).await {
                Ok(r) => {
                    let after = read_cpu(target, "after half load", &mut run.failures);
                    if let (Some(b), Some(a)) = (before, after) {
                        result.half_load_cpu = Some(CpuPerRequest::between(b, a, r.requests));
                    }
                    result.half_load = Some(r);
                }
                Err(e) => run.failures.push(format!("{} half load: {e}", target.name)),
            }
        }
    }
    for (target, result) in targets.into_iter().zip(results.iter_mut()) {
        if let Some(server) = target.server {
            // Read before stopping: an exited process's /proc entry is gone.
            if let Some(subject) = &target.cpu {
                result.lifetime_cpu = subject.ticks().ok().map(ticks_to_duration);
            }
            server.stop().await;
        }
    }
    run.targets = results;
    run
}

/// The target whose saturation rate the half-load rate halves: the slowest
/// proxy (so that every proxy runs at no more than half of what it can do,
/// and all of them and `direct` are offered the same rate); `direct` when
/// no proxy could be saturated.
fn half_load_reference(results: &[TargetRun]) -> Option<(&'static str, f64)> {
    let rate = |r: &TargetRun| r.saturation.map(|s| (r.name, s.requests_per_sec));
    results
        .iter()
        .filter(|r| r.name != "direct")
        .filter_map(rate)
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .or_else(|| results.iter().find_map(rate))
}

/// Starts nginx or HAProxy in its own directory under `work`.
async fn start_peer(
    name: &str,
    work: &Path,
    backend: SocketAddr,
    workers: usize,
) -> Result<ServerProcess, BenchError> {
    let dir: PathBuf = work.join(name);
    std::fs::create_dir_all(&dir).map_err(|source| BenchError::Io {
        path: dir.display().to_string(),
        source,
    })?;
    match name {
        "nginx" => nginx::start(&dir, backend, workers).await,
        _ => haproxy::start(&dir, backend, workers).await,
    }
}
