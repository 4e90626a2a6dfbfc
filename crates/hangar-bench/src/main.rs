//! `hangar-bench`: measures a single-host Hangar platform (create+start
//! latency, start-from-stopped and resume-from-suspended latency, density of
//! idle Machines) and, in the same run and on the same busybox rootfs, the
//! Docker engine and runc; and its edge proxy against nginx and HAProxy in
//! front of the same backend, with cold starts through the proxy; and, when
//! named, image builds (each builder) and pulls (scenarios `build`, `pull`).
//! Prints a Markdown report. Needs root.
//!
//! ```text
//! cargo build --release -p hangar
//! cargo run --release -p hangar-bench -- --init target/release/hangar all
//! ```

mod backend;
mod cpu_time;
mod edge;
mod error;
mod host;
mod load;
mod peers;
mod platform;
mod probe;
mod proxy_report;
mod report;
mod scenarios;
mod stats;

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};

use crate::error::BenchError;
use crate::host::HostFacts;
use crate::peers::docker::Docker;
use crate::peers::runc::Runc;
use crate::platform::BenchPlatform;
use crate::report::Report;
use crate::scenarios::proxy::{EdgeSetup, ProxyOptions};

/// Benchmarks a single-host Hangar platform against docker and runc.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    /// The `hangar` binary, used as every Machine's init.
    #[arg(long, default_value = "target/release/hangar")]
    init: PathBuf,
    /// Where images, the platform's data and peer bundles go (default: a new
    /// directory under /var/tmp, removed at the end).
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// Machines (and peer containers) created for the create+start scenario.
    #[arg(long, default_value_t = 200)]
    machines: usize,
    /// Stop/start and suspend/resume cycles.
    #[arg(long, default_value_t = 50)]
    cycles: usize,
    /// Idle Machines the density scenario tries to reach.
    #[arg(long, default_value_t = 500)]
    density_target: usize,
    /// Guest memory of every Machine and container, in MB.
    #[arg(long, default_value_t = 64)]
    memory_mb: u32,
    /// Time budget of each create loop, in seconds.
    #[arg(long, default_value_t = 1200)]
    budget_secs: u64,
    /// Duration of each load run of the proxy scenario (saturation and
    /// half load, per target), in seconds.
    #[arg(long, default_value_t = 5)]
    duration_secs: u64,
    /// Keep-alive connections of each proxy load run.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// wrk threads.
    #[arg(long, default_value_t = 2)]
    wrk_threads: usize,
    /// Worker threads of the benchmark's runtime, which runs the Hangar
    /// proxy; also nginx's worker processes and HAProxy's threads.
    #[arg(long, default_value_t = 2)]
    workers: usize,
    /// Connection workers of the Hangar proxy (threads with an event loop
    /// each) [default: --workers]; 0 serves its connections on the
    /// benchmark's multi-threaded runtime instead.
    #[arg(long)]
    proxy_workers: Option<usize>,
    /// How the Hangar proxy serves plain HTTP/1.1: on its lean path (as
    /// `hangar dev` does) or on hyper only (for comparison).
    #[arg(long, value_enum, default_value_t = Http1Path::Lean)]
    proxy_http1: Http1Path,
    /// Peers to measure beside Hangar.
    #[arg(long, value_enum, default_values_t = [Peer::Docker, Peer::Runc, Peer::Nginx, Peer::Haproxy])]
    peer: Vec<Peer>,
    /// Measure Hangar only.
    #[arg(long)]
    no_peers: bool,
    /// Build → push → deploy repetitions per builder (build scenario); the
    /// first is cold, the others reuse the builder's cache.
    #[arg(long, default_value_t = 3)]
    build_reps: usize,
    /// Pull-and-start runs with the layers already present (pull scenario),
    /// after the one on the fresh agent.
    #[arg(long, default_value_t = 3)]
    pull_warm: usize,
    /// Also write the Markdown report to this file.
    #[arg(long)]
    out: Option<PathBuf>,
    /// What to measure.
    #[arg(required = true, value_enum)]
    scenarios: Vec<Scenario>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Scenario {
    /// Create+start latency of N Machines.
    Machines,
    /// Start-from-stopped and resume-from-suspended latency.
    Cycles,
    /// Idle Machines until the target or a failure.
    Density,
    /// The edge proxy, nginx and HAProxy in front of one backend.
    Proxy,
    /// Stopped and suspended → first byte through the edge proxy.
    ColdStart,
    /// All of the above.
    All,
    /// Build and deploy time of the example app with each builder (not
    /// part of `all`).
    Build,
    /// Pull-and-start of a ~100 MB image on a fresh agent and with its
    /// layers present (not part of `all`).
    Pull,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Peer {
    Docker,
    Runc,
    Nginx,
    Haproxy,
}

impl Cli {
    fn wants(&self, scenario: Scenario) -> bool {
        let in_all = !matches!(scenario, Scenario::Build | Scenario::Pull);
        self.scenarios.contains(&scenario) || (in_all && self.scenarios.contains(&Scenario::All))
    }
    fn wants_peer(&self, peer: Peer) -> bool {
        !self.no_peers && self.peer.contains(&peer)
    }
}

/// mimalloc instead of glibc's malloc: the edge proxy allocates and frees
/// small buffers on every request on several threads (7 % of its samples
/// were in glibc's malloc and free; see docs/benchmarks.md, "Edge proxy").
/// The name of the benchmark's runtime threads (workers and blocking pool;
/// 15 bytes, all the kernel keeps), by which the proxy scenario finds the
/// Hangar proxy's CPU time when it has no connection workers of its own.
pub const RUNTIME_THREAD_NAME: &str = "hangar-bench-rt";

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The Hangar proxy's path for plain HTTP/1.1 requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Http1Path {
    Lean,
    Hyper,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // Logs of the in-process platform and proxy, to stderr, only when
    // RUST_LOG asks (e.g. `RUST_LOG=hangar_proxy=info` to see autostarts).
    if let Ok(filter) = tracing_subscriber::EnvFilter::try_from_default_env() {
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init();
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cli.workers.max(1))
        .thread_name(RUNTIME_THREAD_NAME)
        .enable_all()
        .build()?;
    runtime.block_on(run(cli))
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    if !hangar_testbed::is_root() {
        return Err(BenchError::NotRoot.into());
    }
    let init = std::fs::canonicalize(&cli.init)
        .map_err(|_| BenchError::MissingInit(cli.init.display().to_string()))?;
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    let host = HostFacts::read();
    let _temp;
    let work = match &cli.work_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            dir.clone()
        }
        None => {
            let dir = tempfile::Builder::new()
                .prefix("hangar-bench-")
                .tempdir_in("/var/tmp")?;
            let path = dir.path().to_path_buf();
            _temp = dir;
            path
        }
    };
    eprintln!(
        "hangar-bench: init {}, work dir {}, load {}",
        init.display(),
        work.display(),
        host.loadavg
    );
    let budget = Duration::from_secs(cli.budget_secs);
    let platform = BenchPlatform::boot(&init, &work).await?;
    let mut report = Report::default();
    let result = measure(&cli, &platform, &work, budget, &mut report).await;
    platform.stop().await;
    let _ = std::process::Command::new("ip")
        .args(["link", "del", platform::BRIDGE])
        .status();
    if let Err(e) = result {
        report.failures.push(format!("run aborted: {e}"));
    }
    let markdown = report.to_markdown(&host, &command, &host::loadavg());
    println!("{markdown}");
    if let Some(out) = &cli.out {
        std::fs::write(out, &markdown)?;
    }
    Ok(())
}

async fn measure(
    cli: &Cli,
    platform: &BenchPlatform,
    work: &std::path::Path,
    budget: Duration,
    report: &mut Report,
) -> Result<(), BenchError> {
    let containers = cli.wants(Scenario::Machines) || cli.wants(Scenario::Cycles);
    let docker = if containers
        && cli.wants_peer(Peer::Docker)
        && peers::command::available("docker").await
    {
        Some(Docker::setup(&platform.rootfs, work, cli.memory_mb).await?)
    } else {
        None
    };
    let mut runc =
        if containers && cli.wants_peer(Peer::Runc) && peers::command::available("runc").await {
            Some(Runc::setup(&platform.rootfs, work, cli.memory_mb).await?)
        } else {
            None
        };
    let outcome = async {
        // First, while the agent has pulled nothing: the fresh-agent pull.
        if cli.wants(Scenario::Pull) {
            let section = scenarios::images::pull::run(platform, work, cli.pull_warm).await;
            report.images.push(section);
        }
        if cli.wants(Scenario::Build) {
            let hangar = std::fs::canonicalize(&cli.init)
                .map_err(|_| BenchError::MissingInit(cli.init.display().to_string()))?;
            let section =
                scenarios::images::build::run(platform, &hangar, work, cli.build_reps).await;
            report.images.push(section);
        }
        if cli.wants(Scenario::Machines) {
            eprintln!("create+start: {} Machines", cli.machines);
            let run =
                scenarios::create_start::run(platform, cli.machines, cli.memory_mb, budget).await?;
            report.add_create_start("hangar", run, "POST /machines answers `started`");
            if let Some(docker) = &docker {
                eprintln!("create+start: {} docker containers", cli.machines);
                report.add_create_start(
                    "docker",
                    docker.create_start(cli.machines, budget).await?,
                    "`docker run -d` returns",
                );
            }
            if let Some(runc) = &mut runc {
                eprintln!("create+start: {} runc containers", cli.machines);
                report.add_create_start(
                    "runc",
                    runc.create_start(cli.machines, budget).await?,
                    "`runc create` + `runc start`, no network",
                );
            }
        }
        if cli.wants(Scenario::Cycles) {
            eprintln!(
                "cycles: {} stop/start and {} suspend/resume",
                cli.cycles, cli.cycles
            );
            let run = scenarios::cycles::run(platform, cli.cycles, cli.memory_mb).await?;
            report.add_cycles(
                "hangar",
                run,
                [
                    "POST start + wait started",
                    "POST start on suspended + wait started",
                ],
            );
            if let Some(docker) = &docker {
                report.add_cycles(
                    "docker",
                    docker.cycles(cli.cycles).await?,
                    [
                        "`docker start` after `docker kill`",
                        "`docker unpause` after `docker pause`",
                    ],
                );
            }
            if let Some(runc) = &mut runc {
                report.add_cycles(
                    "runc",
                    runc.cycles(cli.cycles).await?,
                    ["", "`runc resume` after `runc pause`"],
                );
            }
        }
        if cli.wants(Scenario::Density) {
            eprintln!("density: up to {} idle Machines", cli.density_target);
            let density =
                scenarios::density::run(platform, cli.density_target, cli.memory_mb, budget)
                    .await?;
            report.set_density(density);
        }
        if cli.wants(Scenario::Proxy) || cli.wants(Scenario::ColdStart) {
            measure_edge(cli, platform, work, report).await?;
        }
        Ok::<_, BenchError>(())
    }
    .await;
    if let Some(docker) = docker {
        docker.teardown().await;
    }
    if let Some(runc) = &mut runc {
        runc.delete_all().await;
    }
    if outcome.is_err() {
        // Leave no Machine behind when a scenario aborted half-way.
        let _ = platform.destroy_all().await;
    }
    outcome
}

/// The proxy and cold-start scenarios, on one backend Machine behind the
/// edge proxy.
async fn measure_edge(
    cli: &Cli,
    platform: &BenchPlatform,
    work: &std::path::Path,
    report: &mut Report,
) -> Result<(), BenchError> {
    let hangar = std::fs::canonicalize(&cli.init)
        .map_err(|_| BenchError::MissingInit(cli.init.display().to_string()))?;
    let cpus = u32::try_from(cli.workers).unwrap_or(2);
    eprintln!("edge: example app Machine behind the edge proxy");
    let proxy_workers = cli.proxy_workers.unwrap_or(cli.workers);
    let lean_http1 = cli.proxy_http1 == Http1Path::Lean;
    let setup = EdgeSetup::start(platform, &hangar, work, cpus, proxy_workers, lean_http1).await?;
    if cli.wants(Scenario::Proxy) {
        let options = ProxyOptions {
            workers: cli.workers,
            proxy_workers,
            lean_http1,
            wrk_threads: cli.wrk_threads,
            connections: cli.connections,
            duration: Duration::from_secs(cli.duration_secs.max(1)),
            nginx: cli.wants_peer(Peer::Nginx),
            haproxy: cli.wants_peer(Peer::Haproxy),
        };
        report.proxy = Some(scenarios::proxy::run(&setup, work, &options).await);
    }
    if cli.wants(Scenario::ColdStart) {
        eprintln!(
            "cold start: {} stopped and {} suspended → first byte through the proxy",
            cli.cycles, cli.cycles
        );
        report.add_cold_start(scenarios::cold_start::run(platform, &setup, cli.cycles).await);
    }
    setup.stop(platform).await
}
