//! Turns a Machine record and its resolved image into the driver's
//! [`MachineSpec`]: the command line, the environment, the user, the
//! resources.

use hangar_driver::{MachineSpec, NetworkSpec, ProcessSpec, Resources, VolumeMount};
use hangar_image::ResolvedImage;

use crate::machine::record::MachineRecord;

/// A config that cannot be launched.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    #[error("image {image} has no ENTRYPOINT or CMD and the machine config sets neither init.exec, init.entrypoint nor init.cmd: set config.init.cmd to the command to run")]
    NoCommand { image: String },
    #[error("guest.memory_mb must be at least 64 (got {0})")]
    MemoryTooSmall(i64),
    #[error("guest.cpus must be between 1 and 64 (got {0})")]
    BadCpus(i64),
}

/// The argv a Machine runs: `init.exec`, else entrypoint + cmd with Docker's
/// rules (overriding the entrypoint drops the image's cmd).
pub fn argv(record: &MachineRecord, image: &ResolvedImage) -> Result<Vec<String>, LaunchError> {
    let init = record.config.init.clone().unwrap_or_default();
    if !init.exec.is_empty() {
        return Ok(init.exec);
    }
    let process = record.config.processes.first();
    let entrypoint_override = (!init.entrypoint.is_empty())
        .then(|| init.entrypoint.clone())
        .or_else(|| {
            process
                .filter(|p| !p.entrypoint.is_empty())
                .map(|p| p.entrypoint.clone())
        });
    let cmd_override = (!init.cmd.is_empty())
        .then(|| init.cmd.clone())
        .or_else(|| process.filter(|p| !p.cmd.is_empty()).map(|p| p.cmd.clone()));
    let entrypoint = entrypoint_override
        .clone()
        .unwrap_or_else(|| image.config.entrypoint.clone());
    let cmd = match (cmd_override, entrypoint_override) {
        (Some(cmd), _) => cmd,
        (None, Some(_)) => Vec::new(),
        (None, None) => image.config.cmd.clone(),
    };
    let argv: Vec<String> = entrypoint.into_iter().chain(cmd).collect();
    if argv.is_empty() {
        return Err(LaunchError::NoCommand {
            image: record.config.image.clone(),
        });
    }
    Ok(argv)
}

/// The environment: image env, then the machine's env, then the app's
/// secrets, then Fly's variables (which win).
pub fn environment(
    record: &MachineRecord,
    image: &ResolvedImage,
    secrets: &[(String, String)],
) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = Vec::new();
    let mut set = |k: &str, v: String| {
        if let Some(slot) = env.iter_mut().find(|(key, _)| key == k) {
            slot.1 = v;
        } else {
            env.push((k.to_string(), v));
        }
    };
    for kv in &image.config.env {
        if let Some((k, v)) = kv.split_once('=') {
            set(k, v.to_string());
        }
    }
    if !image.config.env.iter().any(|kv| kv.starts_with("PATH=")) {
        set(
            "PATH",
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into(),
        );
    }
    for (k, v) in &record.config.env {
        set(k, v.clone());
    }
    if let Some(process) = record.config.processes.first() {
        for (k, v) in &process.env {
            set(k, v.clone());
        }
    }
    // A secret beats `[env]` of the same name.
    for (k, v) in secrets {
        set(k, v.clone());
    }
    let private_ip = record
        .ipv6
        .map(|ip| ip.to_string())
        .or_else(|| record.ipv4.map(|ip| ip.to_string()))
        .unwrap_or_else(|| "127.0.0.1".into());
    let primary_region = record
        .config
        .env
        .get("PRIMARY_REGION")
        .cloned()
        .unwrap_or_else(|| record.region.clone());
    set("FLY_APP_NAME", record.app.clone());
    set("FLY_MACHINE_ID", record.id.clone());
    set("FLY_ALLOC_ID", record.id.clone());
    set("FLY_MACHINE_VERSION", record.instance_id.clone());
    set("FLY_REGION", record.region.clone());
    set("FLY_PRIVATE_IP", private_ip);
    set("FLY_IMAGE_REF", record.config.image.clone());
    set("FLY_PROCESS_GROUP", record.process_group());
    set("PRIMARY_REGION", primary_region);
    env
}

/// CPU and memory from `guest` (defaults: 1 shared CPU, 256 MB).
pub fn resources(record: &MachineRecord) -> Result<Resources, LaunchError> {
    let guest = record.config.guest.clone().unwrap_or_default();
    let cpus = guest.cpus.unwrap_or(1);
    if !(1..=64).contains(&cpus) {
        return Err(LaunchError::BadCpus(cpus));
    }
    let memory_mb = guest.memory_mb.unwrap_or(256);
    if memory_mb < 64 {
        return Err(LaunchError::MemoryTooSmall(memory_mb));
    }
    Ok(Resources {
        cpus: cpus as u32,
        cpu_kind: guest.cpu_kind.unwrap_or_else(|| "shared".into()),
        memory_mb: memory_mb as u64,
        pids_max: 1024,
    })
}

/// Checks what can be checked before anything is created.
pub fn validate(record: &MachineRecord, image: &ResolvedImage) -> Result<(), LaunchError> {
    argv(record, image)?;
    resources(record)?;
    Ok(())
}

/// The full driver spec.
pub fn spec(
    record: &MachineRecord,
    image: &ResolvedImage,
    network: Option<NetworkSpec>,
    mounts: Vec<VolumeMount>,
    secrets: &[(String, String)],
) -> Result<MachineSpec, LaunchError> {
    let user = record
        .config
        .processes
        .first()
        .and_then(|p| p.user.clone())
        .or_else(|| image.config.user.clone())
        .filter(|u| !u.is_empty());
    Ok(MachineSpec {
        machine_id: record.id.clone(),
        instance_id: record.instance_id.clone(),
        app_name: record.app.clone(),
        region: record.region.clone(),
        image_ref: record.config.image.clone(),
        layers: image.layers.clone(),
        process: ProcessSpec {
            argv: argv(record, image)?,
            env: environment(record, image, secrets),
            user,
            workdir: image.config.working_dir.clone().filter(|w| !w.is_empty()),
        },
        resources: resources(record)?,
        network,
        mounts,
        extra_hosts: Vec::new(),
    })
}
