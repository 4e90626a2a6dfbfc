//! [`DockerDriver`]: the [`Driver`] implementation over the Docker Engine API.

use bollard::query_parameters::{
    AttachContainerOptionsBuilder, CreateContainerOptionsBuilder, InspectContainerOptions,
    KillContainerOptionsBuilder, ListContainersOptionsBuilder, RemoveContainerOptionsBuilder,
};
use bollard::Docker;
use hangar_driver::{
    ConsoleRequest, ConsoleSession, Driver, DriverError, ExecOutput, ExecRequest, Isolation,
    MachineSpec, ProcessInfo, StartedTask, TaskHandle,
};
use tokio::sync::Mutex;

use crate::client::{connect, container_error, daemon_error, is_not_found, message};
use crate::container::{container_name, create_body};
use crate::handle::HandleData;
use crate::image::ImageLoader;
use crate::image_gc::ImageUse;
use crate::{network, output, DockerDriverConfig};

/// The driver's name in handles and logs.
pub(crate) const NAME: &str = "docker";

/// Runs Machines as Docker containers.
pub struct DockerDriver {
    pub(crate) docker: Docker,
    pub(crate) config: DockerDriverConfig,
    pub(crate) images: ImageLoader,
    pub(crate) image_use: ImageUse,
    /// Held while a container joins or a network may be removed, so an idle
    /// network is never removed under a Machine being created on it.
    networks: Mutex<()>,
    isolation: Isolation,
}

impl DockerDriver {
    /// Connects to the daemon and probes what it can enforce.
    ///
    /// Fails with [`DriverError::HostSetup`] when the daemon is not reachable.
    pub async fn connect(config: DockerDriverConfig) -> Result<DockerDriver, DriverError> {
        let docker = connect(&config.socket_path()).await?;
        let info = docker.info().await.map_err(|e| daemon_error("info", &e))?;
        let mut reasons = Vec::new();
        let missing = |flag: Option<bool>, what: &str, reasons: &mut Vec<String>| {
            if flag == Some(false) {
                reasons.push(format!(
                    "the Docker daemon cannot enforce {what} on this host"
                ));
            }
        };
        missing(info.memory_limit, "memory limits", &mut reasons);
        missing(
            info.swap_limit,
            "the no-swap limit (memory may swap past the limit)",
            &mut reasons,
        );
        missing(info.cpu_cfs_quota, "CPU quotas", &mut reasons);
        missing(info.pids_limit, "process limits", &mut reasons);
        let isolation = if reasons.is_empty() {
            Isolation::Full
        } else {
            Isolation::Partial { reasons }
        };
        Ok(DockerDriver {
            images: ImageLoader::new(docker.clone(), config.owner.clone()),
            image_use: ImageUse::default(),
            docker,
            config,
            networks: Mutex::new(()),
            isolation,
        })
    }

    fn data(&self, handle: &TaskHandle) -> Result<HandleData, DriverError> {
        HandleData::from_handle(handle)
    }

    /// Force-removes whatever container is named after the Machine (a leftover
    /// of an earlier start that was never cleaned up).
    async fn remove_stale(&self, machine_id: &str) -> Result<(), DriverError> {
        let options = RemoveContainerOptionsBuilder::default().force(true).build();
        match self
            .docker
            .remove_container(&container_name(machine_id), Some(options))
            .await
        {
            Ok(()) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(e) => Err(daemon_error("remove container", &e)),
        }
    }

    /// Creates the container (joining its network) and returns its ID.
    async fn create(&self, spec: &MachineSpec, image: &str) -> Result<HandleData, DriverError> {
        let _networks = self.networks.lock().await;
        let network = match &spec.network {
            Some(addresses) => {
                Some(network::ensure(&self.docker, &self.config.network_prefix, addresses).await?)
            }
            None => None,
        };
        let body = create_body(spec, image, &self.config.owner, network.as_ref())?;
        self.remove_stale(&spec.machine_id).await?;
        let options = CreateContainerOptionsBuilder::default()
            .name(&container_name(&spec.machine_id))
            .build();
        let created = self
            .docker
            .create_container(Some(options), body)
            .await
            .map_err(|e| {
                if is_not_found(&e) {
                    // Removed behind the driver's back (another owner's sweep,
                    // an operator's prune): the next start loads it again.
                    self.images.forget(image);
                }
                DriverError::StartFailed {
                    machine_id: spec.machine_id.clone(),
                    reason: format!("Docker refused to create the container: {}", message(&e)),
                }
            })?;
        Ok(HandleData {
            container_id: created.id,
            network: network.map(|n| n.name),
        })
    }

    async fn start_created(
        &self,
        spec: &MachineSpec,
        data: &HandleData,
    ) -> Result<StartedTask, DriverError> {
        let id = &data.container_id;
        let failed = |reason: String| DriverError::StartFailed {
            machine_id: spec.machine_id.clone(),
            reason,
        };
        let attach = AttachContainerOptionsBuilder::default()
            .stream(true)
            .stdout(true)
            .stderr(true)
            .build();
        let attached = self
            .docker
            .attach_container(id, Some(attach))
            .await
            .map_err(|e| failed(format!("cannot attach to its output: {}", message(&e))))?;
        let (stdout, stderr) = output::split_attach(attached.output);
        self.docker.start_container(id, None).await.map_err(|e| {
            failed(format!(
                "Docker could not start the container: {}",
                message(&e)
            ))
        })?;
        let exit = output::exit_future(self.docker.clone(), id.clone());
        let inspected = self
            .docker
            .inspect_container(id, None::<InspectContainerOptions>)
            .await
            .map_err(|e| failed(message(&e)))?;
        let pid = inspected
            .state
            .and_then(|s| s.pid)
            .and_then(|p| u32::try_from(p).ok())
            .unwrap_or(0);
        Ok(StartedTask {
            handle: TaskHandle {
                machine_id: spec.machine_id.clone(),
                driver: NAME.into(),
                pid,
                data: data.to_value(),
            },
            stdout,
            stderr,
            exit,
        })
    }

    pub(crate) async fn remove(&self, data: &HandleData) -> Result<(), DriverError> {
        let options = RemoveContainerOptionsBuilder::default().force(true).build();
        match self
            .docker
            .remove_container(&data.container_id, Some(options))
            .await
        {
            Ok(()) => {}
            Err(e) if is_not_found(&e) => {}
            // 409: removal already in progress (a concurrent cleanup).
            Err(e) if crate::client::status_of(&e) == Some(409) => {}
            Err(e) => return Err(daemon_error("remove container", &e)),
        }
        if let Some(name) = &data.network {
            let _networks = self.networks.lock().await;
            network::remove_if_unused(&self.docker, name).await;
        }
        Ok(())
    }

    /// IDs of every container (running or not) labelled with `machine_id`.
    async fn containers_labelled(&self, machine_id: &str) -> Result<Vec<String>, DriverError> {
        let label = format!("{}={machine_id}", crate::MACHINE_LABEL);
        let options = ListContainersOptionsBuilder::default()
            .all(true)
            .filters(&std::collections::HashMap::from([(
                "label",
                vec![label.as_str()],
            )]))
            .build();
        let found = self
            .docker
            .list_containers(Some(options))
            .await
            .map_err(|e| daemon_error("list containers", &e))?;
        Ok(found.into_iter().filter_map(|c| c.id).collect())
    }

    async fn kill_with(&self, handle: &TaskHandle, signal: &str) -> Result<(), DriverError> {
        let data = self.data(handle)?;
        let options = KillContainerOptionsBuilder::default()
            .signal(signal)
            .build();
        self.docker
            .kill_container(&data.container_id, Some(options))
            .await
            .map_err(|e| container_error(&handle.machine_id, "kill container", &e))
    }
}

#[async_trait::async_trait]
impl Driver for DockerDriver {
    fn name(&self) -> &'static str {
        NAME
    }

    fn isolation(&self) -> Isolation {
        self.isolation.clone()
    }

    async fn start(&self, spec: &MachineSpec) -> Result<StartedTask, DriverError> {
        let data = {
            // No image sweep between loading the image and creating the container.
            let _starting = self.image_use.starting.read().await;
            let image = self.images.ensure(spec).await?;
            self.pin_image(spec, &image).await?;
            self.create(spec, &image).await?
        };
        match self.start_created(spec, &data).await {
            Ok(task) => Ok(task),
            Err(error) => {
                let _ = self.remove(&data).await;
                Err(error)
            }
        }
    }

    async fn signal(&self, handle: &TaskHandle, signal: i32) -> Result<(), DriverError> {
        if !(1..=64).contains(&signal) {
            return Err(DriverError::InvalidSignal(signal));
        }
        self.kill_with(handle, &signal.to_string()).await
    }

    async fn kill(&self, handle: &TaskHandle) -> Result<(), DriverError> {
        self.kill_with(handle, "SIGKILL").await?;
        // A paused container's processes die only once thawed.
        let data = self.data(handle)?;
        let _ = self.docker.unpause_container(&data.container_id).await;
        Ok(())
    }

    async fn freeze(&self, handle: &TaskHandle) -> Result<(), DriverError> {
        let data = self.data(handle)?;
        self.docker
            .pause_container(&data.container_id)
            .await
            .map_err(|e| container_error(&handle.machine_id, "pause container", &e))
    }

    async fn thaw(&self, handle: &TaskHandle) -> Result<(), DriverError> {
        let data = self.data(handle)?;
        self.docker
            .unpause_container(&data.container_id)
            .await
            .map_err(|e| container_error(&handle.machine_id, "unpause container", &e))
    }

    async fn exec(&self, handle: &TaskHandle, req: ExecRequest) -> Result<ExecOutput, DriverError> {
        let data = self.data(handle)?;
        crate::exec::run(&self.docker, &handle.machine_id, &data.container_id, req).await
    }

    async fn console(
        &self,
        handle: &TaskHandle,
        req: ConsoleRequest,
    ) -> Result<ConsoleSession, DriverError> {
        let data = self.data(handle)?;
        crate::console::start(&self.docker, &handle.machine_id, &data.container_id, req).await
    }

    async fn ps(&self, handle: &TaskHandle) -> Result<Vec<ProcessInfo>, DriverError> {
        let data = self.data(handle)?;
        let not_running = || DriverError::NotRunning {
            machine_id: handle.machine_id.clone(),
        };
        let inspected = self
            .docker
            .inspect_container(&data.container_id, None::<InspectContainerOptions>)
            .await
            .map_err(|e| container_error(&handle.machine_id, "inspect container", &e))?;
        let state = inspected.state.ok_or_else(not_running)?;
        if state.running != Some(true) {
            return Err(not_running());
        }
        let pid = state
            .pid
            .and_then(|p| u32::try_from(p).ok())
            .filter(|p| *p > 0)
            .ok_or_else(not_running)?;
        Ok(tokio::task::spawn_blocking(move || crate::ps::list(pid))
            .await
            .unwrap_or_default())
    }

    async fn cleanup(&self, handle: &TaskHandle) -> Result<(), DriverError> {
        let data = self.data(handle)?;
        self.remove(&data).await
    }

    async fn recover(&self, handle: &TaskHandle) -> Result<(), DriverError> {
        // Removing with force kills whatever survived, then frees the container.
        let data = self.data(handle)?;
        self.remove(&data).await?;
        // Any other container labelled with this Machine (one created by a
        // start the agent never recorded) goes too.
        for id in self.containers_labelled(&handle.machine_id).await? {
            let stray = HandleData {
                container_id: id,
                network: data.network.clone(),
            };
            self.remove(&stray).await?;
        }
        Ok(())
    }
}
