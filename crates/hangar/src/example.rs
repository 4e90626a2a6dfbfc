//! The bundled example app, `hello`: a small HTTP server that shows the
//! Machine it runs on, its region and a visit counter kept in a volume.
//!
//! `hangar dev --example` deploys it the way a user deploys an app: the
//! running `hangar` binary is copied into a build context made from
//! examples/hello (its Dockerfile is embedded, so this works from any
//! directory), built by the native builder (`FROM host`), pushed to the
//! platform's built-in registry, and deployed by digest through the control
//! plane's deploy API, so release 1 exists (`hangar releases -a hello`).
//!
//! `FROM host` needs the process driver with full isolation (root). Without
//! it, the fallback image is the hangar binary plus the shared libraries
//! `ldd` lists, deployed the same way.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use hangar_build::{BuildRequest, BuilderChoice};
use hangar_client::Client;
use hangar_image::push::RegistryLogin;
use hangar_image::ImageConfig;
use hangar_types::{CreateAppRequest, CreateDeployRequest, Machine, MachineState};

/// The example's app name.
pub const APP: &str = "hello";
/// The port it listens on inside its Machine.
pub const PORT: u16 = 8080;

/// Files (with their host paths) the example's root filesystem needs:
/// the executable and every shared library `ldd` lists for it.
fn runtime_files(exe: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = vec![exe.to_path_buf()];
    let out = Command::new("ldd")
        .arg(exe)
        .output()
        .context("cannot run `ldd` to find the example's libraries (install libc-bin)")?;
    let text = String::from_utf8_lossy(&out.stdout);
    for line in text.lines() {
        let path = match line.split_once("=>") {
            Some((_, rest)) => rest.split_whitespace().next(),
            None => line.split_whitespace().next(),
        };
        if let Some(p) = path.filter(|p| p.starts_with('/')) {
            files.push(PathBuf::from(p));
        }
    }
    Ok(files)
}

/// The fallback image (no `FROM host`): the binary and its libraries as a
/// one-layer OCI layout under `dir`, tagged `hello`. Returns the layout.
fn fallback_layout(dir: &Path) -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("cannot locate the hangar binary")?;
    let rootfs = dir.join("rootfs");
    let _ = std::fs::remove_dir_all(&rootfs);
    for file in runtime_files(&exe)? {
        let target = if file == exe {
            rootfs.join("bin/hangar")
        } else {
            rootfs.join(file.strip_prefix("/").unwrap_or(&file))
        };
        std::fs::create_dir_all(target.parent().unwrap_or(&rootfs))?;
        std::fs::copy(&file, &target)
            .with_context(|| format!("cannot copy {} into the example image", file.display()))?;
    }
    for d in ["data", "tmp", "etc"] {
        std::fs::create_dir_all(rootfs.join(d))?;
    }
    let config = ImageConfig {
        env: vec!["PATH=/bin".into()],
        cmd: vec!["/bin/hangar".into(), "example-hello".into()],
        exposed_ports: vec![format!("{PORT}/tcp")],
        ..Default::default()
    };
    let layout = dir.join("layout");
    hangar_image::layout::write_oci_layout(&layout, &rootfs, &config, APP)
        .context("cannot write the example image")?;
    std::fs::remove_dir_all(&rootfs).ok();
    Ok(layout)
}

/// The Dockerfile of examples/hello, embedded so any directory works.
pub const DOCKERFILE: &str = include_str!("../../../examples/hello/Dockerfile");

/// How long the example's first deploy may take.
const DEPLOY_TIMEOUT: Duration = Duration::from_secs(180);

/// The example's fly.toml: what the example always set up — one Machine
/// (shared CPU, 256 MB) serving port 8080 as HTTP on 80 and TLS on 443,
/// always running, with the volume `hello_data` at /data for the visit
/// counter (the deploy creates it on first use).
pub fn fly_toml(region: &str) -> String {
    format!(
        "app = \"{APP}\"\nprimary_region = \"{region}\"\n\n\
         [mounts]\n  source = \"hello_data\"\n  destination = \"/data\"\n\n\
         [http_service]\n  internal_port = {PORT}\n  force_https = false\n  \
         auto_stop_machines = \"off\"\n  auto_start_machines = true\n  \
         min_machines_running = 1\n\n\
         [[vm]]\n  cpu_kind = \"shared\"\n  cpus = 1\n  memory = \"256mb\"\n"
    )
}

/// Builds the example natively from examples/hello with the running
/// binary copied in; returns the OCI layout.
async fn build_native(dir: &Path) -> anyhow::Result<PathBuf> {
    let context_dir = dir.join("context");
    let _ = std::fs::remove_dir_all(&context_dir);
    std::fs::create_dir_all(&context_dir)?;
    std::fs::write(context_dir.join("Dockerfile"), DOCKERFILE)?;
    let exe = std::env::current_exe().context("cannot locate the hangar binary")?;
    std::fs::copy(&exe, context_dir.join("hangar"))
        .with_context(|| format!("cannot copy {} into the build context", exe.display()))?;
    let mut request = BuildRequest::new(&context_dir, dir.join("layout"));
    request.builder = BuilderChoice::Native;
    request.tag = APP.into();
    let built = hangar_build::build(&request)
        .await
        .context("cannot build the example (examples/hello) with the native builder")?;
    std::fs::remove_dir_all(&context_dir).ok();
    Ok(built.layout_dir)
}

/// Deploys the example (unless its app already has Machines, which keep
/// their state across restarts): build, create the app, push to the built-in
/// registry at `api_url`'s host, deploy by digest, wait for the deploy.
/// `host_base` says whether Machines can run `FROM host` images (the
/// process driver with full isolation). Returns a Machine of the app.
pub async fn launch(
    api_url: &str,
    token: &str,
    dir: &Path,
    region: &str,
    host_base: bool,
) -> anyhow::Result<Machine> {
    let client = Client::new(api_url, token.to_string())?;
    if client.get_app(APP).await.is_ok() {
        if let Some(machine) = live_machine(&client).await? {
            return Ok(machine);
        }
    }
    let layout = if host_base {
        build_native(dir).await?
    } else {
        eprintln!();
        eprintln!("WARNING: Machines are not fully isolated (run as root for that), so they");
        eprintln!("WARNING: cannot run a FROM host image: the example is NOT built from");
        eprintln!(
            "WARNING: examples/hello; its image is this binary plus the libraries ldd lists."
        );
        eprintln!();
        fallback_layout(dir)?
    };
    let host = api_url
        .split_once("://")
        .map_or(api_url, |(_, rest)| rest)
        .trim_end_matches('/');
    let tag = format!("{host}/{APP}:deployment-{}", ulid::Ulid::new());
    let login = RegistryLogin {
        user: "hangar".into(),
        password: token.to_string(),
    };
    // The app first: the registry takes pushes only for apps that exist.
    if client.get_app(APP).await.is_err() {
        client
            .create_app(&CreateAppRequest {
                app_name: Some(APP.into()),
                org_slug: Some("personal".into()),
                ..Default::default()
            })
            .await
            .context("cannot create the example app")?;
    }
    let digest = hangar_image::push::push_oci_layout(&layout, &tag, Some(&login))
        .await
        .context("cannot push the example image to the built-in registry")?;
    std::fs::remove_dir_all(&layout).ok();
    let deploy = client
        .create_deploy(
            APP,
            &CreateDeployRequest {
                image: format!("{host}/{APP}@{digest}"),
                fly_toml: fly_toml(region),
                ha: Some(false),
                author: Some("hangar dev --example".into()),
                ..Default::default()
            },
        )
        .await
        .context("cannot start the example's deploy")?;
    let deadline = Instant::now() + DEPLOY_TIMEOUT;
    let done = loop {
        let current = client.get_deploy(APP, &deploy.id).await?;
        if current.state.is_final() {
            break current;
        }
        if Instant::now() > deadline {
            bail!(
                "the example's deploy {} did not finish within {DEPLOY_TIMEOUT:?}: \
                 see `hangar deploy status {} -a {APP}`",
                deploy.id,
                deploy.id
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    if done.state != hangar_types::DeployState::Succeeded {
        bail!(
            "the example's deploy {} {}: {} (see `hangar deploy status {} --watch -a {APP}`)",
            done.id,
            done.state,
            done.error.unwrap_or_default(),
            done.id
        );
    }
    live_machine(&client)
        .await?
        .context("the example's deploy succeeded but the app has no Machine")
}

/// A Machine of the example app that is not destroyed.
async fn live_machine(client: &Client) -> anyhow::Result<Option<Machine>> {
    let machines = client.list_machines(APP, &Default::default()).await?;
    Ok(machines
        .into_iter()
        .find(|m| m.state != MachineState::Destroyed))
}
/// The example server itself (`hangar example-hello`).
pub async fn serve() -> anyhow::Result<()> {
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(PORT);
    let app = axum::Router::new().fallback(|| async {
        let machine = std::env::var("FLY_MACHINE_ID").unwrap_or_else(|_| "unknown".into());
        let region = std::env::var("FLY_REGION").unwrap_or_else(|_| "unknown".into());
        let visits = count_visit(Path::new("/data/visits"));
        format!("Hello from Hangar!\nmachine: {machine}\nregion:  {region}\nvisits:  {visits}\n")
    });
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([0, 0, 0, 0], port))).await?;
    println!("hello: listening on port {port}");
    axum::serve(listener, app).await?;
    Ok(())
}

/// Increments the counter file; `?` if the volume is not there.
fn count_visit(path: &Path) -> String {
    let current: u64 = std::fs::read_to_string(path)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0);
    let next = current + 1;
    match std::fs::write(path, next.to_string()) {
        Ok(()) => next.to_string(),
        Err(_) => "? (no volume at /data)".into(),
    }
}
