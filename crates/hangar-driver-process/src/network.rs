//! Machine networking: a host bridge with the gateway addresses, and one veth
//! pair per Machine whose inner end (`eth0`) carries the Machine's addresses.
//!
//! The bridge is created once with `ip` from iproute2; each Machine's veth
//! is set up over netlink (`netlink.rs`), with no process spawned per start.

use std::io::Write;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use std::process::{Command, Stdio};

use hangar_driver::{DriverError, NetworkSpec};
use nix::fcntl::{open, OFlag};
use nix::sched::{setns, CloneFlags};
use nix::sys::stat::Mode;

use crate::netlink::{self, Netlink};

/// The host bridge every Machine's veth is attached to.
#[derive(Debug, Clone)]
pub(crate) struct Bridge {
    pub name: String,
    pub gateway4: Ipv4Addr,
    pub prefix4: u8,
    pub gateway6: Ipv6Addr,
    pub prefix6: u8,
}

/// Runs `ip -batch -` with `commands`, optionally inside a network namespace.
pub(crate) fn ip_batch(commands: &[String], netns: Option<OwnedFd>) -> Result<(), DriverError> {
    let mut command = Command::new("ip");
    command
        .args(["-batch", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(fd) = netns {
        // SAFETY: setns is a plain system call, safe between fork and exec.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut command, move || {
                setns(fd.as_fd(), CloneFlags::CLONE_NEWNET).map_err(std::io::Error::from)
            });
        }
    }
    let describe = || format!("ip -batch - <<< {:?}", commands.join("; "));
    let mut child = command.spawn().map_err(|e| DriverError::HostCommand {
        command: describe(),
        detail: format!("{e} (is iproute2 installed?)"),
    })?;
    if let Some(mut stdin) = child.stdin.take() {
        let script = commands.join("\n") + "\n";
        let _ = stdin.write_all(script.as_bytes());
    }
    let output = child
        .wait_with_output()
        .map_err(|e| DriverError::HostCommand {
            command: describe(),
            detail: e.to_string(),
        })?;
    if output.status.success() {
        Ok(())
    } else {
        Err(DriverError::HostCommand {
            command: describe(),
            detail: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        })
    }
}

fn run_quietly(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// True when the `ip` program can be run.
pub(crate) fn ip_available() -> bool {
    run_quietly("ip", &["-V"])
}

impl Bridge {
    /// True when the bridge interface exists on the host.
    pub(crate) fn exists(&self) -> bool {
        Path::new("/sys/class/net").join(&self.name).exists()
    }

    /// Creates the bridge with its gateway addresses unless it already exists.
    /// Callers serialise calls (see the driver's bridge lock).
    pub(crate) fn ensure(&self) -> Result<(), DriverError> {
        if !self.exists() {
            let name = &self.name;
            ip_batch(
                &[
                    format!("link add name {name} type bridge"),
                    format!("addr add {}/{} dev {name}", self.gateway4, self.prefix4),
                    format!(
                        "addr add {}/{} dev {name} nodad",
                        self.gateway6, self.prefix6
                    ),
                    format!("link set {name} up"),
                ],
                None,
            )?;
        }
        self.allow_bridged_traffic();
        Ok(())
    }

    /// With `br_netfilter` loaded, bridged frames traverse the iptables FORWARD
    /// chain, whose policy may be DROP (Docker sets that): accept Machine-to-Machine
    /// traffic on our bridge explicitly.
    fn allow_bridged_traffic(&self) {
        let filtered = |family: &str| {
            std::fs::read_to_string(format!("/proc/sys/net/bridge/bridge-nf-call-{family}"))
                .map(|v| v.trim() == "1")
                .unwrap_or(false)
        };
        for (family, program) in [("iptables", "iptables"), ("ip6tables", "ip6tables")] {
            if !filtered(family) {
                continue;
            }
            let rule = [
                "FORWARD", "-i", &self.name, "-o", &self.name, "-j", "ACCEPT",
            ];
            let present = run_quietly(program, &[&["-C"], &rule[..]].concat());
            if !present && !run_quietly(program, &[&["-I"], &rule[..]].concat()) {
                tracing::warn!(
                    bridge = %self.name,
                    "could not add a {program} FORWARD rule; machines on the bridge may not reach each other"
                );
            }
        }
    }
}

/// Connects the network namespace of `pid` to the bridge through `veth`,
/// over netlink: the host end joins the bridge, the peer becomes `eth0` in
/// the Machine with its addresses and default routes.
pub(crate) fn attach(
    bridge: &Bridge,
    veth: &str,
    pid: u32,
    spec: &NetworkSpec,
) -> Result<(), DriverError> {
    let failed = |detail: String| {
        DriverError::HostSetup(format!(
            "connecting machine pid {pid} to bridge {}: {detail}",
            bridge.name
        ))
    };
    let mut host = Netlink::open().map_err(failed)?;
    let master = netlink::link_index(&bridge.name).map_err(failed)?;
    host.add_veth(veth, master, "eth0", pid, machine_mac(spec.ipv4))
        .map_err(failed)?;
    let index = netlink::link_index(veth).map_err(failed)?;
    host.set_up(index, veth).map_err(failed)?;

    let netns_path = format!("/proc/{pid}/ns/net");
    let netns = open(
        netns_path.as_str(),
        OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| {
        DriverError::io(
            "opening the machine's network namespace",
            &netns_path,
            e.into(),
        )
    })?;
    let spec = spec.clone();
    // A thread of its own enters the namespace and ends there, so no
    // pooled thread is ever left in a Machine's namespace.
    std::thread::spawn(move || -> Result<(), String> {
        setns(netns.as_fd(), CloneFlags::CLONE_NEWNET)
            .map_err(|e| format!("entering the machine's network namespace: {e}"))?;
        let mut inside = Netlink::open()?;
        let eth0 = netlink::link_index("eth0")?;
        inside.add_address(eth0, spec.ipv4.into(), spec.ipv4_prefix)?;
        inside.add_address(eth0, spec.ipv6.into(), spec.ipv6_prefix)?;
        inside.set_up(eth0, "eth0")?;
        inside.add_default_route(spec.gateway4.into())?;
        inside.add_default_route(spec.gateway6.into())
    })
    .join()
    .unwrap_or_else(|_| Err("the namespace setup thread panicked".into()))
    .map_err(failed)
}

/// The hardware address of a Machine's `eth0`: locally administered and
/// derived from its IPv4 address, so a Machine started again keeps the MAC
/// its address had. A new MAC for the same address would leave the host's
/// neighbour entry pointing at the old one, and connections to the Machine
/// would stall until that entry expired.
pub(crate) fn machine_mac(ipv4: std::net::Ipv4Addr) -> [u8; 6] {
    let [a, b, c, d] = ipv4.octets();
    [0x0a, 0x68, a, b, c, d]
}

/// Deletes the host end of a Machine's veth (the pair goes with it). Idempotent.
pub(crate) fn detach(veth: &str) -> Result<(), DriverError> {
    let gone = || !Path::new("/sys/class/net").join(veth).exists();
    if gone() {
        return Ok(());
    }
    // A Machine's namespace dying takes the pair with it, asynchronously:
    // the name may already be gone while sysfs still lists it.
    let deleted = netlink::link_index_if_present(veth).and_then(|index| match index {
        Some(index) => Netlink::open()?.delete_link(index, veth),
        None => Ok(()),
    });
    if let Err(detail) = deleted {
        if !gone() {
            return Err(DriverError::HostSetup(format!(
                "deleting the machine's veth {veth}: {detail}"
            )));
        }
    }
    // The kernel removes the device's sysfs entry a moment after the link
    // itself; cleanup is only done once nothing of it is left.
    let deadline = std::time::Instant::now() + VETH_GONE_WAIT;
    while !gone() {
        if std::time::Instant::now() > deadline {
            return Err(DriverError::HostSetup(format!(
                "the machine's veth {veth} is still listed in /sys/class/net {VETH_GONE_WAIT:?} after it was deleted"
            )));
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    Ok(())
}

/// How long [`detach`] waits for a deleted veth to leave sysfs.
const VETH_GONE_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// A host interface name for a Machine task (at most 15 bytes, stable per task).
pub(crate) fn veth_name(machine_id: &str, instance_id: &str) -> String {
    // FNV-1a: short, deterministic, no dependency.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in machine_id.bytes().chain([b'/']).chain(instance_id.bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("hg{:012x}", hash & 0xffff_ffff_ffff)
}
