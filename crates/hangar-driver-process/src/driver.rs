//! [`ProcessDriver`]: the [`Driver`] implementation.

use std::path::{Path, PathBuf};
use std::time::Duration;

use hangar_driver::{
    ConsoleRequest, ConsoleSession, Driver, DriverError, ExecOutput, ExecRequest, Isolation,
    MachineSpec, ProcessInfo, StartedTask, TaskHandle,
};
use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::Pid;

use crate::config::ProcessDriverConfig;
use crate::handle::{ensure_running, is_alive, HandleData, RunMode, DRIVER_NAME};
use crate::network::{self, Bridge};
use crate::probe::{probe, HostSupport};
use crate::ps;
use crate::wait::poll_until;

/// How long the driver waits for killed processes to disappear.
const REAP_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs Machines as (ideally namespaced and cgroup-limited) host processes.
#[derive(Debug)]
pub struct ProcessDriver {
    pub(crate) config: ProcessDriverConfig,
    pub(crate) support: HostSupport,
    pub(crate) bridge: Bridge,
    /// Serialises bridge creation between concurrent starts.
    pub(crate) bridge_lock: tokio::sync::Mutex<()>,
    /// Set once this driver has set the bridge up (forwarding rule included):
    /// later starts only check that the bridge still exists.
    pub(crate) bridge_ready: std::sync::atomic::AtomicBool,
}

fn validate(spec: &MachineSpec) -> Result<(), DriverError> {
    let invalid = |msg: String| Err(DriverError::InvalidSpec(msg));
    for (what, id) in [
        ("machine_id", &spec.machine_id),
        ("instance_id", &spec.instance_id),
    ] {
        if id.is_empty() || id.contains('/') || id.starts_with('.') {
            return invalid(format!(
                "{what} {id:?} must be non-empty and must not contain '/' or start with '.'"
            ));
        }
    }
    if spec.process.argv.is_empty() {
        return invalid(
            "the command line is empty: set init.cmd/entrypoint or give the image a CMD".into(),
        );
    }
    if spec.layers.is_empty() {
        return invalid("the image has no layers".into());
    }
    if let Some(layer) = spec.layers.iter().find(|l| !l.is_dir()) {
        return invalid(format!(
            "image layer {} is not an unpacked directory",
            layer.display()
        ));
    }
    for mount in &spec.mounts {
        if !mount.host_path.is_dir() {
            return invalid(format!(
                "volume directory {} does not exist",
                mount.host_path.display()
            ));
        }
        if !mount.guest_path.starts_with('/') {
            return invalid(format!(
                "mount path {:?} must be absolute",
                mount.guest_path
            ));
        }
    }
    Ok(())
}

fn signal_from(number: i32) -> Result<Signal, DriverError> {
    Signal::try_from(number).map_err(|_| DriverError::InvalidSignal(number))
}

impl ProcessDriver {
    /// Creates the driver, probing what isolation this host allows. Fails only
    /// when the state directory or the init program are unusable.
    pub fn new(config: ProcessDriverConfig) -> Result<Self, DriverError> {
        std::fs::create_dir_all(config.state_dir.join("machines")).map_err(|e| {
            DriverError::io("creating the driver state directory", &config.state_dir, e)
        })?;
        if !config.init_exe.is_file() {
            return Err(DriverError::HostSetup(format!(
                "the machine init program {} does not exist (build hangar-machine-init or pass the hangar binary)",
                config.init_exe.display()
            )));
        }
        let support = probe(&config);
        let bridge = Bridge {
            name: config.bridge.clone(),
            gateway4: config.gateway4,
            prefix4: config.subnet4_prefix,
            gateway6: config.gateway6,
            prefix6: config.subnet6_prefix,
        };
        match &support.isolation {
            Isolation::Full => tracing::info!("process driver: full isolation"),
            other => tracing::warn!("process driver: {other}"),
        }
        Ok(ProcessDriver {
            config,
            support,
            bridge,
            bridge_lock: tokio::sync::Mutex::new(()),
            bridge_ready: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// Brings an existing bridge to the configured subnets before any
    /// Machine starts: an earlier run's gateway addresses are replaced, or,
    /// when one of `machines` (every address the agent's Machines hold)
    /// is still in such a subnet, nothing changes and the error names the
    /// bridge, the subnet, the Machines and what to do. A no-op for a bridge
    /// not created yet, or without isolation (no bridge is used then).
    pub fn prepare_bridge(&self, machines: &[crate::MachineAddress]) -> Result<(), DriverError> {
        if !self.support.namespaces || !network::ip_available() {
            return Ok(());
        }
        self.bridge.adopt_configured_subnets(machines)
    }

    /// The configuration the driver was created with.
    pub fn config(&self) -> &ProcessDriverConfig {
        &self.config
    }

    /// CPU time the task has used so far, in nanoseconds (`None` without CPU accounting).
    pub fn cpu_usage_nanos(&self, handle: &TaskHandle) -> Result<Option<u64>, DriverError> {
        Ok(HandleData::from_handle(handle)?.cgroups.cpu_usage_nanos())
    }

    /// Host paths the task owns (cgroup directories, its task directory, its veth
    /// in `/sys/class/net`). After [`Driver::cleanup`] none of them exists.
    pub fn host_resources(&self, handle: &TaskHandle) -> Result<Vec<PathBuf>, DriverError> {
        let data = HandleData::from_handle(handle)?;
        let mut paths: Vec<PathBuf> = data
            .cgroups
            .procs_files()
            .iter()
            .filter_map(|p| p.parent().map(Path::to_path_buf))
            .collect();
        paths.push(data.task_dir.clone());
        if let Some(veth) = &data.veth {
            paths.push(Path::new("/sys/class/net").join(veth));
        }
        Ok(paths)
    }

    fn task_dir(&self, spec: &MachineSpec) -> PathBuf {
        self.config
            .state_dir
            .join("machines")
            .join(format!("{}-{}", spec.machine_id, spec.instance_id))
    }

    /// Kills whatever of the task still runs and waits until it is gone.
    async fn stop_survivors(
        &self,
        handle: &TaskHandle,
        data: &HandleData,
    ) -> Result<(), DriverError> {
        let pid = Pid::from_raw(handle.pid as i32);
        match data.mode {
            RunMode::Isolated => {
                data.cgroups.kill_all().await?;
                if is_alive(handle.pid, data.start_ticks) {
                    let _ = kill(pid, Signal::SIGKILL);
                }
                let gone = poll_until(REAP_TIMEOUT, || async {
                    !is_alive(handle.pid, data.start_ticks)
                })
                .await;
                if !gone {
                    return Err(DriverError::HostSetup(format!(
                        "the init of machine {} (pid {}) survived SIGKILL",
                        handle.machine_id, handle.pid
                    )));
                }
            }
            RunMode::Unisolated => {
                if !ps::pids_in_session(handle.pid).is_empty() {
                    let _ = killpg(pid, Signal::SIGKILL);
                }
                let gone = poll_until(REAP_TIMEOUT, || async {
                    ps::pids_in_session(handle.pid).iter().all(|p| {
                        crate::handle::stat_fields(*p)
                            .and_then(|f| f.first().cloned())
                            .as_deref()
                            == Some("Z")
                    })
                })
                .await;
                if !gone {
                    return Err(DriverError::HostSetup(format!(
                        "processes of machine {} survived SIGKILL",
                        handle.machine_id
                    )));
                }
            }
        }
        Ok(())
    }

    /// Stops and cleans up a task that an earlier start of this Machine left
    /// in `task_dir` and that nobody recorded: the agent died between this
    /// driver's start and persisting the handle. Such a task still runs and
    /// holds the Machine's veth, address and cgroups, which the new start
    /// needs.
    async fn recover_unrecorded(
        &self,
        spec: &MachineSpec,
        task_dir: &Path,
    ) -> Result<(), DriverError> {
        let Some(handle) = crate::handle::read_task_file(task_dir) else {
            return Ok(());
        };
        tracing::warn!(machine_id = %spec.machine_id, pid = handle.pid, "start: cleaning up a task an earlier start left behind without its handle being recorded");
        self.recover(&handle).await
    }

    async fn release(&self, data: &HandleData) -> Result<(), DriverError> {
        if let Some(veth) = data.veth.clone() {
            crate::isolated::run_blocking(move || network::detach(&veth)).await?;
        }
        data.cgroups.remove().await?;
        match std::fs::remove_dir_all(&data.task_dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(DriverError::io(
                "removing the task directory",
                &data.task_dir,
                e,
            )),
            _ => Ok(()),
        }
    }
}

#[async_trait::async_trait]
impl Driver for ProcessDriver {
    fn name(&self) -> &'static str {
        DRIVER_NAME
    }

    fn isolation(&self) -> Isolation {
        self.support.isolation.clone()
    }

    async fn start(&self, spec: &MachineSpec) -> Result<StartedTask, DriverError> {
        validate(spec)?;
        let task_dir = self.task_dir(spec);
        self.recover_unrecorded(spec, &task_dir).await?;
        // Each start from stopped gets a fresh writable layer.
        if task_dir.exists() {
            std::fs::remove_dir_all(&task_dir).map_err(|e| {
                DriverError::io("removing the previous writable layer", &task_dir, e)
            })?;
        }
        std::fs::create_dir_all(&task_dir)
            .map_err(|e| DriverError::io("creating the task directory", &task_dir, e))?;
        if self.support.namespaces {
            self.start_isolated(spec, task_dir).await
        } else {
            tracing::warn!(machine_id = %spec.machine_id, "starting machine WITHOUT isolation: {}", self.support.isolation);
            let started = self.start_unisolated(spec, task_dir.clone()).await;
            if started.is_err() {
                let _ = std::fs::remove_dir_all(&task_dir);
            }
            started
        }
    }

    async fn signal(&self, handle: &TaskHandle, signal: i32) -> Result<(), DriverError> {
        let data = HandleData::from_handle(handle)?;
        let signal = signal_from(signal)?;
        ensure_running(handle, &data)?;
        kill(Pid::from_raw(handle.pid as i32), signal).map_err(|_| DriverError::NotRunning {
            machine_id: handle.machine_id.clone(),
        })
    }

    async fn kill(&self, handle: &TaskHandle) -> Result<(), DriverError> {
        let data = HandleData::from_handle(handle)?;
        match data.mode {
            RunMode::Isolated => {
                data.cgroups.kill_all().await?;
                if is_alive(handle.pid, data.start_ticks) {
                    let _ = kill(Pid::from_raw(handle.pid as i32), Signal::SIGKILL);
                }
            }
            RunMode::Unisolated => {
                let _ = killpg(Pid::from_raw(handle.pid as i32), Signal::SIGKILL);
            }
        }
        Ok(())
    }

    async fn freeze(&self, handle: &TaskHandle) -> Result<(), DriverError> {
        let data = HandleData::from_handle(handle)?;
        ensure_running(handle, &data)?;
        match data.mode {
            RunMode::Isolated => data.cgroups.set_frozen(true).await,
            RunMode::Unisolated => killpg(Pid::from_raw(handle.pid as i32), Signal::SIGSTOP)
                .map_err(|_| DriverError::NotRunning {
                    machine_id: handle.machine_id.clone(),
                }),
        }
    }

    async fn thaw(&self, handle: &TaskHandle) -> Result<(), DriverError> {
        let data = HandleData::from_handle(handle)?;
        ensure_running(handle, &data)?;
        match data.mode {
            RunMode::Isolated => data.cgroups.set_frozen(false).await,
            RunMode::Unisolated => killpg(Pid::from_raw(handle.pid as i32), Signal::SIGCONT)
                .map_err(|_| DriverError::NotRunning {
                    machine_id: handle.machine_id.clone(),
                }),
        }
    }

    async fn exec(&self, handle: &TaskHandle, req: ExecRequest) -> Result<ExecOutput, DriverError> {
        let data = HandleData::from_handle(handle)?;
        if req.argv.is_empty() {
            return Err(DriverError::ExecFailed {
                machine_id: handle.machine_id.clone(),
                reason: "empty command".into(),
            });
        }
        match data.mode {
            RunMode::Isolated => self.exec_isolated(handle, &data, req).await,
            RunMode::Unisolated => self.exec_unisolated(handle, &data, req).await,
        }
    }

    async fn console(
        &self,
        handle: &TaskHandle,
        req: ConsoleRequest,
    ) -> Result<ConsoleSession, DriverError> {
        let data = HandleData::from_handle(handle)?;
        if req.argv.is_empty() {
            return Err(DriverError::ExecFailed {
                machine_id: handle.machine_id.clone(),
                reason: "empty command".into(),
            });
        }
        match data.mode {
            RunMode::Isolated => self.console_isolated(handle, &data, req).await,
            RunMode::Unisolated => self.console_unisolated(handle, &data, req).await,
        }
    }

    async fn ps(&self, handle: &TaskHandle) -> Result<Vec<ProcessInfo>, DriverError> {
        let data = HandleData::from_handle(handle)?;
        ensure_running(handle, &data)?;
        let pids = match data.mode {
            RunMode::Isolated => {
                let link = format!("/proc/{}/ns/pid_for_children", handle.pid);
                let namespace =
                    std::fs::read_link(&link).map_err(|e| DriverError::io("reading", &link, e))?;
                ps::pids_in_namespace("pid", &namespace.to_string_lossy())
            }
            RunMode::Unisolated => ps::pids_in_session(handle.pid),
        };
        Ok(ps::describe(&pids))
    }

    async fn cleanup(&self, handle: &TaskHandle) -> Result<(), DriverError> {
        let data = HandleData::from_handle(handle)?;
        self.stop_survivors(handle, &data).await?;
        self.release(&data).await
    }

    async fn recover(&self, handle: &TaskHandle) -> Result<(), DriverError> {
        let data = HandleData::from_handle(handle)?;
        if is_alive(handle.pid, data.start_ticks) {
            tracing::info!(machine_id = %handle.machine_id, pid = handle.pid, "recover: killing a surviving task");
        }
        self.stop_survivors(handle, &data).await?;
        self.release(&data).await
    }
}
