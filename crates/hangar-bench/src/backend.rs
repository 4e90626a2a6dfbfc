//! The backend every proxy is measured in front of: the bundled example app
//! (`hangar example-hello`, an axum server) in a Machine on the process
//! driver, with one HTTP service on public port 80 that the edge proxy
//! routes to by Host and autostarts.

use std::path::{Path, PathBuf};
use std::process::Command;

use hangar_image::ImageConfig;
use hangar_types::{
    AutostopMode, MachineConfig, MachineGuest, MachinePort, MachineService, ServiceConcurrency,
};

use crate::error::BenchError;

/// The port the example app listens on inside its Machine.
pub const PORT: u16 = 8080;
/// The public port its service stands for (the edge proxy matches on it).
pub const PUBLIC_PORT: u16 = 80;

/// Builds an OCI layout under `dir` whose root filesystem holds `hangar`
/// (the Machine init binary, which also contains the example server) and
/// the shared libraries `ldd` lists for it; its command is
/// `/bin/hangar example-hello`. Returns the image reference.
pub fn example_image(hangar: &Path, dir: &Path) -> Result<String, BenchError> {
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source| BenchError::Io { path, source }
    };
    let rootfs = dir.join("rootfs");
    for file in runtime_files(hangar)? {
        let target = if file == hangar {
            rootfs.join("bin/hangar")
        } else {
            rootfs.join(file.strip_prefix("/").unwrap_or(&file))
        };
        let parent = target.parent().unwrap_or(&rootfs);
        std::fs::create_dir_all(parent).map_err(io(parent))?;
        std::fs::copy(&file, &target).map_err(io(&file))?;
    }
    // No /data: without its volume the example's visit counter is not
    // written, so every request is answered from memory.
    for d in ["tmp", "etc"] {
        std::fs::create_dir_all(rootfs.join(d)).map_err(io(&rootfs))?;
    }
    let config = ImageConfig {
        env: vec!["PATH=/bin".into()],
        cmd: vec!["/bin/hangar".into(), "example-hello".into()],
        exposed_ports: vec![format!("{PORT}/tcp")],
        ..Default::default()
    };
    let layout = dir.join("layout");
    hangar_image::layout::write_oci_layout(&layout, &rootfs, &config, "hello").map_err(|e| {
        BenchError::Io {
            path: layout.display().to_string(),
            source: std::io::Error::other(e.to_string()),
        }
    })?;
    Ok(format!("oci:{}:hello", layout.display()))
}

/// The executable and every shared library `ldd` lists for it.
pub fn runtime_files(exe: &Path) -> Result<Vec<PathBuf>, BenchError> {
    let out = Command::new("ldd")
        .arg(exe)
        .output()
        .map_err(|source| BenchError::Spawn {
            command: format!("ldd {}", exe.display()),
            source,
        })?;
    let mut files = vec![exe.to_path_buf()];
    for line in String::from_utf8_lossy(&out.stdout).lines() {
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

/// The backend Machine's config: `image` on `cpus` dedicated CPUs (so that
/// the cgroup CPU quota does not cap the server below what the host
/// gives), one HTTP service on public port 80 with autostart, concurrency
/// by requests and limits far above the benchmark's connections (the
/// proxy never queues for capacity).
pub fn machine_config(image: &str, cpus: u32, memory_mb: u32) -> MachineConfig {
    MachineConfig {
        image: image.to_string(),
        guest: Some(MachineGuest {
            cpus: Some(cpus.into()),
            memory_mb: Some(memory_mb.into()),
            cpu_kind: Some("performance".into()),
            ..Default::default()
        }),
        services: vec![MachineService {
            protocol: "tcp".into(),
            internal_port: i64::from(PORT),
            ports: vec![MachinePort {
                port: Some(PUBLIC_PORT.into()),
                handlers: vec!["http".into()],
                ..Default::default()
            }],
            concurrency: Some(ServiceConcurrency {
                kind: Some("requests".into()),
                soft_limit: Some(10_000),
                hard_limit: Some(10_000),
            }),
            autostart: Some(true),
            autostop: Some(AutostopMode::Off),
            min_machines_running: Some(0),
            ..Default::default()
        }],
        ..Default::default()
    }
}
