//! Bringing an existing bridge to the configured subnets at start-up.
//!
//! A bridge left by an earlier run with another subnet keeps that run's
//! gateway addresses; Machines given addresses in the new subnet would then
//! be unreachable from the host. Before any Machine starts, the old gateway
//! addresses are replaced by the configured ones, unless a Machine still
//! holds an address in an old subnet: then start-up is refused.

use std::fmt;
use std::net::IpAddr;
use std::process::Command;

use hangar_driver::DriverError;

use crate::network::{ip_batch, Bridge};

/// An address one of the agent's Machines holds (whatever its state).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MachineAddress {
    /// The Machine's ID.
    pub machine_id: String,
    /// One of its private addresses.
    pub ip: IpAddr,
}

/// An address with its prefix length, as held by an interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cidr {
    ip: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// True when `ip` lies in this address's subnet.
    fn contains(&self, ip: IpAddr) -> bool {
        match (self.ip, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }

    /// The subnet itself (host bits cleared).
    fn network(&self) -> Cidr {
        let ip = match self.ip {
            IpAddr::V4(ip) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                IpAddr::V4((u32::from(ip) & mask).into())
            }
            IpAddr::V6(ip) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                IpAddr::V6((u128::from(ip) & mask).into())
            }
        };
        Cidr {
            ip,
            prefix: self.prefix,
        }
    }

    /// The `hangar dev` option that sets the subnet of this family.
    fn option(&self) -> &'static str {
        if self.ip.is_ipv4() {
            "--machine-subnet"
        } else {
            "--machine-subnet6"
        }
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.ip, self.prefix)
    }
}

/// The global-scope addresses of interface `name` (link-local ones are the
/// kernel's own and stay).
fn global_addresses(name: &str) -> Result<Vec<Cidr>, DriverError> {
    let command = format!("ip -json addr show dev {name}");
    let failed = |detail: String| DriverError::HostCommand {
        command: command.clone(),
        detail,
    };
    let output = Command::new("ip")
        .args(["-json", "addr", "show", "dev", name])
        .output()
        .map_err(|e| failed(format!("{e} (is iproute2 installed?)")))?;
    if !output.status.success() {
        return Err(failed(
            String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        ));
    }
    let links: serde_json::Value = serde_json::from_slice(&output.stdout)
        .map_err(|e| failed(format!("unreadable output: {e}")))?;
    let infos = links
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|link| link.get("addr_info")?.as_array())
        .flatten();
    let mut addresses = Vec::new();
    for info in infos {
        if info.get("scope").and_then(|s| s.as_str()) != Some("global") {
            continue;
        }
        let ip = info.get("local").and_then(|s| s.as_str()).map(str::parse);
        let prefix = info.get("prefixlen").and_then(|p| p.as_u64());
        match (ip, prefix) {
            (Some(Ok(ip)), Some(prefix)) if prefix <= 128 => addresses.push(Cidr {
                ip,
                prefix: prefix as u8,
            }),
            _ => return Err(failed(format!("unreadable address entry {info}"))),
        }
    }
    Ok(addresses)
}

impl Bridge {
    /// The gateway addresses the bridge must hold.
    fn gateways(&self) -> [Cidr; 2] {
        [
            Cidr {
                ip: self.gateway4.into(),
                prefix: self.prefix4,
            },
            Cidr {
                ip: self.gateway6.into(),
                prefix: self.prefix6,
            },
        ]
    }

    /// Makes an existing bridge hold exactly the configured gateway
    /// addresses: other global addresses (an earlier run's subnets) are
    /// removed, unless one of `machines` has an address in their subnet, in
    /// which case nothing changes and the error says what to do. A bridge
    /// that does not exist yet is left to [`Bridge::ensure`].
    pub(crate) fn adopt_configured_subnets(
        &self,
        machines: &[MachineAddress],
    ) -> Result<(), DriverError> {
        if !self.exists() {
            return Ok(());
        }
        let held = global_addresses(&self.name)?;
        let gateways = self.gateways();
        let stale: Vec<Cidr> = held
            .iter()
            .copied()
            .filter(|address| !gateways.contains(address))
            .collect();
        let missing: Vec<Cidr> = gateways
            .iter()
            .copied()
            .filter(|gateway| !held.contains(gateway))
            .collect();
        let mut conflicts = Vec::new();
        for old in &stale {
            let users: Vec<&MachineAddress> = machines
                .iter()
                .filter(|m| old.contains(m.ip))
                .filter(|m| !gateways.iter().any(|g| g.contains(m.ip)))
                .collect();
            if !users.is_empty() {
                conflicts.push(self.conflict(old, &users));
            }
        }
        if !conflicts.is_empty() {
            return Err(DriverError::HostSetup(conflicts.join("; ")));
        }
        if let Some(old) = stale.first() {
            // Before this agent starts anything, an interface on the bridge
            // is a Machine of someone else (another agent, or one this agent
            // lost track of), which may still use the old subnet.
            let ports = self.ports();
            if !ports.is_empty() {
                return Err(DriverError::HostSetup(format!(
                    "bridge {bridge} holds {old} from an earlier run and still has interfaces attached ({ports}), \
                     so Machines not known to this agent may be using subnet {old_net}; stop them (or the hangar \
                     that runs them), keep {option} {old_net}, or pick another bridge with --bridge",
                    bridge = self.name,
                    ports = ports.join(", "),
                    old_net = old.network(),
                    option = old.option(),
                )));
            }
        }
        if stale.is_empty() && missing.is_empty() {
            return Ok(());
        }
        let name = &self.name;
        // The new gateways go on first: should a removal fail, the bridge
        // still serves the configured subnets.
        let mut commands: Vec<String> = missing
            .iter()
            .map(|gateway| {
                let nodad = if gateway.ip.is_ipv6() { " nodad" } else { "" };
                format!("addr add {gateway} dev {name}{nodad}")
            })
            .collect();
        commands.extend(stale.iter().map(|old| format!("addr del {old} dev {name}")));
        for old in &stale {
            tracing::warn!(bridge = %name, old = %old, "replacing an earlier run's gateway address on the bridge: no machine uses its subnet");
        }
        ip_batch(&commands, None)
    }

    /// The interfaces attached to the bridge, sorted.
    fn ports(&self) -> Vec<String> {
        let dir = std::path::Path::new("/sys/class/net")
            .join(&self.name)
            .join("brif");
        let mut ports: Vec<String> = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
            .collect();
        ports.sort();
        ports
    }

    /// Why the bridge cannot leave `old`'s subnet, and what to do about it.
    fn conflict(&self, old: &Cidr, users: &[&MachineAddress]) -> String {
        let configured = self
            .gateways()
            .into_iter()
            .find(|g| g.ip.is_ipv4() == old.ip.is_ipv4())
            .expect("a gateway per family");
        let listed: Vec<String> = users
            .iter()
            .map(|m| format!("{} ({})", m.machine_id, m.ip))
            .collect();
        format!(
            "bridge {bridge} holds {old} (subnet {old_net}) from an earlier run, but the configured subnet is {new_net}; \
             machines still using {old_net}: {machines}. Either keep {option} {old_net}, \
             destroy those machines, or pick another bridge with --bridge for {new_net}",
            bridge = self.name,
            old_net = old.network(),
            new_net = configured.network(),
            machines = listed.join(", "),
            option = old.option(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnet_membership_and_network() {
        let old = Cidr {
            ip: "10.78.1.1".parse().unwrap(),
            prefix: 24,
        };
        assert!(old.contains("10.78.1.200".parse().unwrap()));
        assert!(!old.contains("10.78.2.5".parse().unwrap()));
        assert!(!old.contains("fdaa:0:5c::5".parse().unwrap()));
        assert_eq!(old.network().to_string(), "10.78.1.0/24");
        let v6 = Cidr {
            ip: "fdaa:0:5c::1".parse().unwrap(),
            prefix: 64,
        };
        assert!(v6.contains("fdaa:0:5c::77".parse().unwrap()));
        assert!(!v6.contains("fdaa:0:5d::77".parse().unwrap()));
        assert_eq!(v6.network().to_string(), "fdaa:0:5c::/64");
    }
}
