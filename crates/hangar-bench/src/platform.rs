//! The platform under test: the same in-process platform the test harness
//! boots (store, agent, process driver, API on 127.0.0.1:0), but on its own
//! bridge and a /16 subnet so that hundreds of Machines get addresses (the
//! harness's /24 holds at most 253).

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use hangar::platform::{Platform, PlatformOptions};
use hangar_agent::Subnets;
use hangar_client::{Client, DestroyOptions, ListMachinesOptions, WaitOptions};
use hangar_testbed::{busybox_image, BusyboxImage};
use hangar_types::{
    CreateAppRequest, CreateMachineRequest, Machine, MachineConfig, MachineGuest, MachineState,
};

use crate::error::BenchError;

/// The app every benchmark Machine belongs to.
pub const APP: &str = "bench";
/// The region of the benchmark's host.
pub const REGION: &str = "bench";
/// The host bridge of the benchmark's Machines.
pub const BRIDGE: &str = "hgbench0";
/// Port the HTTP image serves on.
pub const HTTP_PORT: u16 = 8080;

/// How long one API call may take before the run gives up on it.
const API_TIMEOUT: Duration = Duration::from_secs(90);

/// A running platform with its client and the two benchmark images.
pub struct BenchPlatform {
    platform: Platform,
    /// Client of the platform's Machines API.
    pub client: Client,
    /// busybox `httpd` on port 8080.
    pub http_image: BusyboxImage,
    /// busybox `sleep 1000000`.
    pub idle_image: BusyboxImage,
    /// The root filesystem both images were built from (the peers use it too).
    pub rootfs: PathBuf,
}

impl BenchPlatform {
    /// Builds the images under `work` and boots a platform whose data
    /// directory is `work/data` and whose Machine init is `init_exe`.
    pub async fn boot(init_exe: &Path, work: &Path) -> Result<BenchPlatform, BenchError> {
        let images = work.join("images");
        let http_image = busybox_image(
            &images.join("http"),
            &["/bin/httpd", "-f", "-p", "8080", "-h", "/www"],
            &[("/www/index.html", "hello from the benchmark\n", 0o644)],
        )
        .ok_or(BenchError::MissingBusybox("/bin/busybox"))?;
        let idle_image = busybox_image(
            &images.join("idle"),
            &["/bin/sleep", "1000000"],
            &[("/www/index.html", "hello from the benchmark\n", 0o644)],
        )
        .ok_or(BenchError::MissingBusybox("/bin/busybox"))?;
        let platform = Platform::start(PlatformOptions {
            data_dir: work.join("data"),
            api_listen: "127.0.0.1:0".parse().expect("literal address"),
            token: None,
            region: REGION.into(),
            init_exe: init_exe.to_path_buf(),
            init_args: vec!["machine-init".into()],
            bridge: BRIDGE.into(),
            subnets: Subnets {
                ipv4: Ipv4Addr::new(172, 28, 0, 0),
                ipv4_prefix: 16,
                ipv6: "fdaa:0:4b::".parse().expect("literal address"),
                ipv6_prefix: 64,
            },
            allowed_image_sources: Vec::new(),
            proxy: None,
            driver: Default::default(),
        })
        .await
        .map_err(BenchError::Boot)?;
        let client = Client::new(&platform.url, platform.token.clone())
            .map_err(BenchError::api("client setup"))?
            .with_request_timeout(Some(API_TIMEOUT));
        client
            .create_app(&CreateAppRequest {
                app_name: Some(APP.into()),
                org_slug: Some("personal".into()),
                ..Default::default()
            })
            .await
            .map_err(BenchError::api("create app"))?;
        Ok(BenchPlatform {
            platform,
            client,
            rootfs: images.join("http").join("rootfs"),
            http_image,
            idle_image,
        })
    }

    /// A Machine config of `image` with one shared CPU and `memory_mb`.
    pub fn config(image: &BusyboxImage, memory_mb: u32) -> MachineConfig {
        MachineConfig {
            image: image.reference.clone(),
            guest: Some(MachineGuest {
                cpus: Some(1),
                memory_mb: Some(memory_mb.into()),
                cpu_kind: Some("shared".into()),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    /// `POST /v1/apps/bench/machines`: creates and starts a Machine.
    pub async fn create(&self, config: MachineConfig) -> Result<Machine, BenchError> {
        self.client
            .create_machine(
                APP,
                &CreateMachineRequest {
                    config,
                    ..Default::default()
                },
            )
            .await
            .map_err(BenchError::api("create machine"))
    }

    /// Blocks (at most 60 s, server side) until the Machine is in `state`.
    pub async fn wait_state(&self, id: &str, state: MachineState) -> Result<(), BenchError> {
        self.client
            .wait_for_state(APP, id, &WaitOptions::new(state, Duration::from_secs(60)))
            .await
            .map_err(BenchError::api(format!("wait for {id} to be {state}")))
    }

    /// Creates a Machine and waits until it is started; when it is not, the
    /// error tells what the create answered and what became of the Machine.
    pub async fn create_started(&self, config: MachineConfig) -> Result<Machine, BenchError> {
        let machine = self.create(config).await?;
        if machine.state == MachineState::Started {
            return Ok(machine);
        }
        if machine.state == MachineState::Failed {
            return Err(BenchError::NotStarted {
                answered: machine.state.to_string(),
                wait: "not waited for: failed is final".into(),
                now: self.describe(&machine.id).await,
                id: machine.id,
            });
        }
        match self.wait_state(&machine.id, MachineState::Started).await {
            Ok(()) => Ok(machine),
            Err(wait) => Err(BenchError::NotStarted {
                answered: machine.state.to_string(),
                wait: wait.to_string(),
                now: self.describe(&machine.id).await,
                id: machine.id,
            }),
        }
    }

    /// The Machine's state and latest events (newest first), for a failure
    /// message.
    pub async fn describe(&self, id: &str) -> String {
        let state = match self.client.get_machine(APP, id).await {
            Ok(m) => m.state.to_string(),
            Err(e) => format!("unknown ({e})"),
        };
        let events = match self.client.machine_events(APP, id).await {
            Ok(events) => events
                .iter()
                .take(4)
                .map(|e| match e.request.as_ref().and_then(|r| r.get("error")) {
                    Some(error) => format!("{}→{} ({error})", e.kind, e.status),
                    None => format!("{}→{}", e.kind, e.status),
                })
                .collect::<Vec<_>>()
                .join(", "),
            Err(e) => format!("unknown ({e})"),
        };
        format!("state `{state}`, latest events: {events}")
    }

    /// Destroys a Machine, killing it if it runs.
    pub async fn destroy(&self, id: &str) -> Result<(), BenchError> {
        self.client
            .destroy_machine(
                APP,
                id,
                DestroyOptions {
                    force: true,
                    kill: true,
                },
            )
            .await
            .map_err(BenchError::api(format!("destroy {id}")))
    }

    /// Every live Machine of the benchmark app.
    pub async fn machines(&self) -> Result<Vec<Machine>, BenchError> {
        self.client
            .list_machines(APP, &ListMachinesOptions::default())
            .await
            .map_err(BenchError::api("list machines"))
    }

    /// Destroys every live Machine; returns how many were destroyed and the
    /// errors of those that could not be.
    pub async fn destroy_all(&self) -> Result<(usize, Vec<BenchError>), BenchError> {
        let mut destroyed = 0;
        let mut errors = Vec::new();
        for machine in self.machines().await? {
            match self.destroy(&machine.id).await {
                Ok(()) => destroyed += 1,
                Err(e) => errors.push(e),
            }
        }
        Ok((destroyed, errors))
    }

    /// The platform's agent (the edge proxy is wired to it directly).
    pub fn agent(&self) -> std::sync::Arc<hangar_agent::Agent> {
        self.platform.agent.clone()
    }

    /// The API's base URL (`http://127.0.0.1:port`); the built-in
    /// registry is served under `/v2/` on the same address.
    pub fn api_url(&self) -> &str {
        &self.platform.url
    }

    /// The platform token (the registry's password).
    pub fn token(&self) -> &str {
        &self.platform.token
    }

    /// Stops the API and the agent.
    pub async fn stop(self) {
        self.platform.stop().await;
    }
}

/// The address of the Machine's HTTP port on its private IPv4 address.
pub fn http_addr(machine: &Machine) -> Option<std::net::SocketAddr> {
    let ip: Ipv4Addr = machine.private_ipv4.as_deref()?.parse().ok()?;
    Some((ip, HTTP_PORT).into())
}
