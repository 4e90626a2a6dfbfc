//! `hangar`: the CLI and every server role in one binary.

use std::ffi::OsString;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use hangar::example;
use hangar::platform::{Platform, PlatformExtras, PlatformOptions, ProxyOptions};
use hangar::proxy_host::AcmeOptions;
use hangar_agent::Subnets;
use hangar_cli::{Cli, Command};
use hangar_cli::{DevArgs, ProxyArgs};
use hangar_driver::Isolation;

/// mimalloc instead of glibc's malloc: the edge proxy allocates and frees
/// small buffers on every request on several threads (7 % of its samples
/// were in glibc's malloc and free; see docs/benchmarks.md, "Edge proxy").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    // The Machine init must run before any thread exists.
    if args.get(1).is_some_and(|a| a == "machine-init") {
        hangar_driver_process::machine_init_main(args[2..].to_vec());
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    if args.get(1).is_some_and(|a| a == "example-hello") {
        return match runtime.block_on(example::serve()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("hello: {err:#}");
                ExitCode::FAILURE
            }
        };
    }
    let cli = Cli::parse();
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Dev(args) => run_dev(args).await.map(|()| 0),
            Command::Proxy(args) => run_proxy(args).await.map(|()| 0),
            _ => hangar_cli::run(cli).await,
        }
    });
    match result {
        Ok(0) => ExitCode::SUCCESS,
        Ok(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("HANGAR_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_target(false)
        .init();
}

async fn run_proxy(args: ProxyArgs) -> anyhow::Result<()> {
    init_logging();
    let mut shutdown = Shutdown::listen()?;
    let proxy = hangar::proxy_role::start(&args).await?;
    println!("Hangar proxy is running.");
    println!(
        "  http:   http://{} (Host-routed; port 80 services)",
        proxy.started.http
    );
    if let Some(tls) = proxy.started.tls {
        println!("  https:  https://{tls} (port 443 services)");
    }
    if let Some(metrics) = proxy.started.metrics {
        println!("  metrics: http://{metrics}/metrics");
    }
    println!(
        "  routes: generation {} ({} machines)",
        proxy.snapshots.borrow().generation,
        proxy.snapshots.borrow().machines.len()
    );
    shutdown.wait().await;
    proxy.stop();
    Ok(())
}

async fn run_dev(args: DevArgs) -> anyhow::Result<()> {
    init_logging();
    // Listened for before anything starts: a Ctrl-C or SIGTERM that comes
    // while the platform boots or the example deploys is kept until the
    // platform can stop its Machines, instead of killing this process with
    // its Machines left running.
    let mut shutdown = Shutdown::listen()?;
    let data_dir = args
        .data_dir_or_default()
        .context("no data directory: pass --data-dir or set HOME")?;
    let extras = PlatformExtras {
        agent_listen: Some(args.agent_listen),
        acme: args.acme_directory.clone().map(|directory| AcmeOptions {
            directory,
            email: args.acme_email.clone(),
        }),
    };
    let platform = Platform::start_with(
        PlatformOptions {
            data_dir: data_dir.clone(),
            api_listen: args.api_listen,
            token: args.token.clone(),
            region: args.region.clone(),
            init_exe: std::env::current_exe().context("cannot locate the hangar binary")?,
            init_args: vec!["machine-init".into()],
            bridge: args.bridge.clone(),
            subnets: Subnets {
                ipv4: args.machine_subnet.0,
                ipv4_prefix: args.machine_subnet.1,
                ipv6: args.machine_subnet6.0,
                ipv6_prefix: args.machine_subnet6.1,
            },
            allowed_image_sources: args.allowed_image_sources.clone(),
            proxy: Some(ProxyOptions {
                listen: args.proxy_listen,
                app_domain: args.app_domain.clone(),
                public_port: 80,
                metrics_listen: Some(args.proxy_metrics_listen),
                tcp_ip: Some(args.proxy_tcp_ip),
                tls_listen: Some(args.proxy_tls_listen),
                tls_cert_dir: args.proxy_tls_cert_dir.clone(),
                workers: ProxyOptions::workers_or_cpus(args.proxy_workers),
            }),
            driver: match args.driver {
                hangar_cli::DriverKind::Process => hangar::platform::DriverChoice::Process,
                hangar_cli::DriverKind::Docker => hangar::platform::DriverChoice::Docker,
            },
        },
        extras,
    )
    .await?;
    println!("Hangar is running (region {}).", args.region);
    println!("  API:    {}", platform.url);
    println!(
        "  token:  {} (HANGAR_API_TOKEN)",
        data_dir.join("token").display()
    );
    println!("  data:   {}", data_dir.display());
    if let Some(agent) = platform.agent_api_addr {
        println!("  agent:  http://{agent} (Machine start/stop for `hangar proxy`)");
    }
    if let Some(proxy) = platform.proxy_addr {
        println!(
            "  proxy:  http://<app>.{}:{} (Host-routed; port 80 services)",
            args.app_domain,
            proxy.port()
        );
        if let Some(tls) = platform.proxy_tls_addr {
            println!(
                "  proxy:  https://<app>.{}:{} (self-signed unless --proxy-tls-cert-dir)",
                args.app_domain,
                tls.port()
            );
        }
        println!(
            "  proxy metrics: http://{}/metrics",
            args.proxy_metrics_listen
        );
    }
    match &platform.isolation {
        Isolation::Full => println!("  machines: isolated (namespaces, cgroups, private network)"),
        other => {
            println!();
            println!("  WARNING: {other}");
            println!("  WARNING: machines are NOT fully isolated from this host; run as root for isolation.");
            println!();
        }
    }
    if args.example {
        let example_dir = data_dir.join("example");
        let launched = tokio::select! {
            launched = example::launch(
                &platform.url,
                &platform.token,
                &example_dir,
                &args.region,
                matches!(platform.isolation, Isolation::Full),
            ) => launched,
            () = shutdown.wait() => {
                // The example's deploy may have started its Machine already:
                // the platform stops it with the rest.
                println!("stopping…");
                platform.stop().await;
                return Ok(());
            }
        };
        let machine = match launched {
            Ok(machine) => machine,
            Err(err) => {
                // Machines the deploy started stop with the platform.
                platform.stop().await;
                return Err(err);
            }
        };
        let address = machine
            .private_ipv4
            .clone()
            .unwrap_or_else(|| "127.0.0.1".into());
        println!();
        println!(
            "The example app `{}` runs on machine {} ({}).",
            example::APP,
            machine.id,
            machine.state
        );
        println!("  curl http://{address}:{}/", example::PORT);
        if let Some(proxy) = platform.proxy_addr {
            println!(
                "  curl http://{}.{}:{}/   (through the proxy)",
                example::APP,
                args.app_domain,
                proxy.port()
            );
        }
        println!("  hangar machine list -a {}", example::APP);
        println!("  hangar releases -a {}", example::APP);
    }
    println!();
    println!("Press Ctrl-C to stop (machines keep their state and come back on the next start).");
    shutdown.wait().await;
    println!("stopping…");
    platform.stop().await;
    Ok(())
}

/// SIGINT and SIGTERM, listened for from the moment it is made: a signal
/// that arrives before [`Shutdown::wait`] is called is not lost (and does
/// not kill the process, as it would with no handler installed).
struct Shutdown {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

impl Shutdown {
    fn listen() -> anyhow::Result<Self> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Shutdown {
            interrupt: signal(SignalKind::interrupt()).context("cannot listen for SIGINT")?,
            terminate: signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?,
        })
    }

    /// Returns once SIGINT or SIGTERM has come (at once if one already has).
    async fn wait(&mut self) {
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
    }
}
