//! Configuration of the process driver.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

/// Name of the host bridge Machines are attached to, unless configured otherwise.
pub const DEFAULT_BRIDGE: &str = "hangar0";

/// How the process driver runs Machines on this host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessDriverConfig {
    /// Per-Machine writable layers, configs and scratch space live under here.
    pub state_dir: PathBuf,
    /// Host bridge for Machine networking; created on demand.
    pub bridge: String,
    /// The bridge's IPv4 address: the Machines' default gateway.
    pub gateway4: Ipv4Addr,
    /// Prefix length of the bridge's IPv4 subnet.
    pub subnet4_prefix: u8,
    /// The bridge's IPv6 address: the Machines' IPv6 default gateway.
    pub gateway6: Ipv6Addr,
    /// Prefix length of the bridge's IPv6 subnet.
    pub subnet6_prefix: u8,
    /// The program run as each Machine's init: `hangar-machine-init`, or the
    /// `hangar` binary when it dispatches to [`crate::machine_init_main`].
    pub init_exe: PathBuf,
    /// Arguments placed before the init's subcommand (e.g. `["machine-init"]`
    /// for a hidden subcommand of the `hangar` binary).
    pub init_args: Vec<String>,
    /// Run Machines as plain host processes even where isolation is possible
    /// (development and tests only; reported as `Isolation::None`).
    pub disable_isolation: bool,
}

impl ProcessDriverConfig {
    /// A configuration with the default bridge `hangar0` on 172.30.0.1/16 and fdaa:0:48::1/64.
    pub fn new(state_dir: impl Into<PathBuf>, init_exe: impl Into<PathBuf>) -> Self {
        ProcessDriverConfig {
            state_dir: state_dir.into(),
            bridge: DEFAULT_BRIDGE.to_owned(),
            gateway4: Ipv4Addr::new(172, 30, 0, 1),
            subnet4_prefix: 16,
            gateway6: Ipv6Addr::new(0xfdaa, 0, 0x48, 0, 0, 0, 0, 1),
            subnet6_prefix: 64,
            init_exe: init_exe.into(),
            init_args: Vec::new(),
            disable_isolation: false,
        }
    }
}
