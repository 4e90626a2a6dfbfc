//! What to run: the fully resolved description of one Machine start.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

/// Everything a driver needs to start a Machine. The agent resolves image
/// config and machine config into this; drivers apply it as given.
#[derive(Debug, Clone)]
pub struct MachineSpec {
    /// The Machine's ID; also its hostname.
    pub machine_id: String,
    /// The ID of this version of the Machine.
    pub instance_id: String,
    pub app_name: String,
    pub region: String,
    /// The image reference the layers came from (informational).
    pub image_ref: String,
    /// Unpacked image layers, bottom first. Read-only and shared between Machines.
    pub layers: Vec<PathBuf>,
    pub process: ProcessSpec,
    pub resources: Resources,
    /// The Machine's private addresses; `None` runs it without a network of its own.
    pub network: Option<NetworkSpec>,
    /// Host directories mounted into the Machine (volumes).
    pub mounts: Vec<VolumeMount>,
    /// Extra `/etc/hosts` entries.
    pub extra_hosts: Vec<(String, IpAddr)>,
}

/// The Machine's main process.
#[derive(Debug, Clone, Default)]
pub struct ProcessSpec {
    /// Program and arguments, already resolved from entrypoint/cmd/init.
    pub argv: Vec<String>,
    /// The complete environment (the driver adds nothing).
    pub env: Vec<(String, String)>,
    /// `uid[:gid]`, or a user name looked up in the root filesystem's `/etc/passwd`.
    pub user: Option<String>,
    /// Working directory inside the Machine (default `/`).
    pub workdir: Option<String>,
}

/// Resource limits of a Machine.
#[derive(Debug, Clone)]
pub struct Resources {
    /// Number of CPUs; the CPU quota is `cpus` full cores.
    pub cpus: u32,
    /// `"shared"` or `"performance"`; shared CPUs get a smaller share under contention.
    pub cpu_kind: String,
    pub memory_mb: u64,
    /// Maximum number of processes and threads.
    pub pids_max: u64,
}

impl Default for Resources {
    fn default() -> Self {
        Resources {
            cpus: 1,
            cpu_kind: "shared".into(),
            memory_mb: 256,
            pids_max: 1024,
        }
    }
}

impl Resources {
    /// True for `cpu_kind = "performance"`.
    pub fn is_performance(&self) -> bool {
        self.cpu_kind == "performance"
    }
}

/// The Machine's private addresses on the host bridge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkSpec {
    pub ipv4: Ipv4Addr,
    pub ipv4_prefix: u8,
    pub gateway4: Ipv4Addr,
    pub ipv6: Ipv6Addr,
    pub ipv6_prefix: u8,
    pub gateway6: Ipv6Addr,
}

/// A host directory bind-mounted into the Machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeMount {
    /// A directory on the host.
    pub host_path: PathBuf,
    /// Absolute path inside the Machine.
    pub guest_path: String,
}
