//! The bundled example app, `hello`: a small HTTP server that shows the
//! Machine it runs on, its region and a visit counter kept in a volume.
//!
//! Until builds exist, `hangar dev --example` prepares its image itself:
//! the running `hangar` binary and the shared libraries it links, as a
//! one-layer OCI image whose command is `hangar example-hello`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context};
use hangar_client::Client;
use hangar_image::ImageConfig;
use hangar_types::{
    CreateAppRequest, CreateMachineRequest, CreateVolumeRequest, Machine, MachineConfig,
    MachineGuest, MachineMount, MachinePort, MachineService,
};

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

/// Builds the example image into `dir` (an OCI layout) and returns its
/// reference (`oci:DIR:hello`).
pub fn prepare_image(dir: &Path) -> anyhow::Result<String> {
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
    Ok(format!("oci:{}:{APP}", layout.display()))
}

/// Creates the app, its volume and one Machine (reusing what exists), and
/// returns the Machine.
pub async fn deploy(client: &Client, image: &str, region: &str) -> anyhow::Result<Machine> {
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
    let machines = client.list_machines(APP, &Default::default()).await?;
    if let Some(existing) = machines
        .into_iter()
        .find(|m| m.state != hangar_types::MachineState::Destroyed)
    {
        return Ok(existing);
    }
    let volumes = client.list_volumes(APP).await?;
    let volume = match volumes
        .into_iter()
        .find(|v| v.name == "hello_data" && v.attached_machine_id.is_none())
    {
        Some(v) => v,
        None => client
            .create_volume(
                APP,
                &CreateVolumeRequest {
                    name: "hello_data".into(),
                    size_gb: Some(1),
                    region: Some(region.into()),
                    ..Default::default()
                },
            )
            .await
            .context("cannot create the example's volume")?,
    };
    let config = MachineConfig {
        image: image.to_string(),
        guest: Some(MachineGuest {
            cpu_kind: Some("shared".into()),
            cpus: Some(1),
            memory_mb: Some(256),
            ..Default::default()
        }),
        mounts: vec![MachineMount {
            volume: volume.id.clone(),
            path: "/data".into(),
            ..Default::default()
        }],
        services: vec![MachineService {
            protocol: "tcp".into(),
            internal_port: i64::from(PORT),
            // As fly.toml's [http_service] expands: plain HTTP on 80, TLS on 443.
            ports: vec![
                MachinePort {
                    port: Some(80),
                    handlers: vec!["http".into()],
                    ..Default::default()
                },
                MachinePort {
                    port: Some(443),
                    handlers: vec!["tls".into(), "http".into()],
                    ..Default::default()
                },
            ],
            ..Default::default()
        }],
        ..Default::default()
    };
    let machine = client
        .create_machine(
            APP,
            &CreateMachineRequest {
                config,
                region: Some(region.into()),
                ..Default::default()
            },
        )
        .await
        .context("cannot create the example machine")?;
    if machine.state != hangar_types::MachineState::Started {
        bail!(
            "the example machine {} is {}: see `hangar machine status {} -a {APP}`",
            machine.id,
            machine.state,
            machine.id
        );
    }
    Ok(machine)
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
