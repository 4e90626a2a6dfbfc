//! The container a Machine runs as: its create request and its labels.

use std::collections::HashMap;

use bollard::models::{
    ContainerCreateBody, HostConfig, HostConfigLogConfig, RestartPolicy, RestartPolicyNameEnum,
};
use hangar_driver::{DriverError, MachineSpec};

use crate::network::ManagedNetwork;

/// CPU shares per CPU (cgroup v1 `cpu.shares`), the same split as the process driver's.
const SHARES_PER_PERFORMANCE_CPU: i64 = 1024;
const SHARES_PER_SHARED_CPU: i64 = 64;

/// The container name of a Machine.
pub(crate) fn container_name(machine_id: &str) -> String {
    format!("hangar-{machine_id}")
}

/// Labels identifying a Machine's container and its owner.
fn labels(spec: &MachineSpec, owner: &str) -> HashMap<String, String> {
    HashMap::from([
        (crate::MANAGED_LABEL.to_owned(), "true".to_owned()),
        (crate::OWNER_LABEL.to_owned(), owner.to_owned()),
        (crate::MACHINE_LABEL.to_owned(), spec.machine_id.clone()),
        (crate::APP_LABEL.to_owned(), spec.app_name.clone()),
        (crate::INSTANCE_LABEL.to_owned(), spec.instance_id.clone()),
    ])
}

/// Checks what Docker would otherwise reject with a less helpful message.
fn validate(spec: &MachineSpec) -> Result<(), DriverError> {
    if spec.process.argv.is_empty() {
        return Err(DriverError::InvalidSpec(format!(
            "machine {} has no command: set the image's ENTRYPOINT/CMD or the machine's init.cmd",
            spec.machine_id
        )));
    }
    for mount in &spec.mounts {
        if !mount.guest_path.starts_with('/') {
            return Err(DriverError::InvalidSpec(format!(
                "volume mount path {:?} must be absolute",
                mount.guest_path
            )));
        }
        if !mount.host_path.is_dir() {
            return Err(DriverError::InvalidSpec(format!(
                "volume directory {} does not exist on the host",
                mount.host_path.display()
            )));
        }
        if mount.host_path.to_string_lossy().contains(':') || mount.guest_path.contains(':') {
            return Err(DriverError::InvalidSpec(format!(
                "volume paths cannot contain ':' with the Docker driver: {} -> {}",
                mount.host_path.display(),
                mount.guest_path
            )));
        }
    }
    Ok(())
}

/// The create request for `spec`'s container from image `image_tag`.
pub(crate) fn create_body(
    spec: &MachineSpec,
    image_tag: &str,
    owner: &str,
    network: Option<&ManagedNetwork>,
) -> Result<ContainerCreateBody, DriverError> {
    validate(spec)?;
    let host_base = crate::host_base::of(spec)?;
    let resources = &spec.resources;
    let memory = i64::try_from(resources.memory_mb.saturating_mul(1024 * 1024))
        .map_err(|_| DriverError::InvalidSpec("memory_mb is too large".into()))?;
    let cpus = i64::from(resources.cpus.max(1));
    let per_cpu_shares = if resources.is_performance() {
        SHARES_PER_PERFORMANCE_CPU
    } else {
        SHARES_PER_SHARED_CPU
    };
    let host_config = HostConfig {
        // Docker's init (tini) is PID 1, as the process driver's init is: it
        // forwards signals to the main process, which would otherwise be PID 1
        // and ignore every signal it has no handler for, and reaps orphans.
        // (A `FROM host` image runs the host's docker-init itself: see `host_base`.)
        init: Some(host_base.is_none()),
        memory: Some(memory),
        // Equal to memory: no swap, so exceeding the limit is an OOM kill.
        memory_swap: Some(memory),
        nano_cpus: Some(cpus * 1_000_000_000),
        cpu_shares: Some(cpus * per_cpu_shares),
        pids_limit: Some(i64::try_from(resources.pids_max).unwrap_or(i64::MAX)),
        binds: Some(
            host_base
                .iter()
                .flat_map(|h| h.binds.iter().cloned())
                .chain(
                    spec.mounts
                        .iter()
                        .map(|m| format!("{}:{}", m.host_path.display(), m.guest_path)),
                )
                .collect(),
        ),
        extra_hosts: Some(
            spec.extra_hosts
                .iter()
                .map(|(name, ip)| format!("{name}:{ip}"))
                .collect(),
        ),
        restart_policy: Some(RestartPolicy {
            name: Some(RestartPolicyNameEnum::NO),
            maximum_retry_count: None,
        }),
        network_mode: Some(network.map_or_else(|| "none".to_owned(), |n| n.name.clone())),
        // The agent keeps the Machine's logs; Docker keeps only a small tail.
        log_config: Some(HostConfigLogConfig {
            typ: Some("json-file".into()),
            config: Some(HashMap::from([
                ("max-size".to_owned(), "1m".to_owned()),
                ("max-file".to_owned(), "1".to_owned()),
            ])),
        }),
        ..Default::default()
    };
    Ok(ContainerCreateBody {
        image: Some(image_tag.to_owned()),
        hostname: Some(spec.machine_id.clone()),
        entrypoint: Some(match &host_base {
            Some(host_base) => host_base.wrap(&spec.process.argv),
            None => spec.process.argv.clone(),
        }),
        cmd: None,
        env: Some(
            spec.process
                .env
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect(),
        ),
        user: spec.process.user.clone(),
        working_dir: spec.process.workdir.clone(),
        labels: Some(labels(spec, owner)),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        attach_stdin: Some(false),
        open_stdin: Some(false),
        tty: Some(false),
        host_config: Some(host_config),
        networking_config: network
            .zip(spec.network.as_ref())
            .map(|(n, s)| crate::network::endpoint(n, s)),
        ..Default::default()
    })
}
