//! The fixed networks of the tests in this binary that run `hangar dev` on
//! a network of their own. Tests of one binary run in parallel, so no two
//! may share a bridge or overlap a subnet, nor overlap the ranges testbeds
//! pick from or that other users of the host hold ([`RESERVED`]); the test
//! below checks it. Add a new test's network here.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::process::Command;

/// A bridge and the Machine subnets of one `hangar dev`.
#[derive(Debug)]
pub struct DevNetwork {
    /// Who uses it.
    pub user: &'static str,
    /// `None` with the Docker driver, whose network is named after the subnet.
    pub bridge: Option<&'static str>,
    pub ipv4: &'static str,
    pub ipv6: &'static str,
}

impl DevNetwork {
    /// `hangar dev`'s flags for this network. A bridge of this name left by
    /// an earlier run with other subnets is deleted first: the process
    /// driver would move it to the new subnets itself, but refuses to while
    /// interfaces (that run's leftover Machines) are still attached to it.
    pub fn args(&self) -> Vec<&'static str> {
        self.delete_stale_bridge();
        let mut args = Vec::new();
        if let Some(bridge) = self.bridge {
            args.extend(["--bridge", bridge]);
        }
        args.extend(["--machine-subnet", self.ipv4]);
        args.extend(["--machine-subnet6", self.ipv6]);
        args
    }

    fn delete_stale_bridge(&self) {
        let Some(bridge) = self.bridge else {
            return;
        };
        if !std::path::Path::new("/sys/class/net").join(bridge).exists() {
            return;
        }
        let shown = Command::new("ip")
            .args(["-o", "addr", "show", "dev", bridge])
            .output()
            .expect("run ip addr show");
        let shown = String::from_utf8_lossy(&shown.stdout);
        let has = |address: String| shown.split_whitespace().any(|word| word == address);
        if has(gateway(self.ipv4)) && has(gateway(self.ipv6)) {
            return;
        }
        eprintln!("deleting bridge {bridge} left by an earlier run with other subnets: {shown}");
        let deleted = Command::new("ip")
            .args(["link", "del", bridge])
            .status()
            .expect("run ip link del");
        assert!(deleted.success(), "cannot delete the stale bridge {bridge}");
    }
}

/// The first address of a subnet, as `ip` shows it on the bridge
/// (`172.26.0.1/24`, `fdaa:0:4d::1/64`).
fn gateway(cidr: &str) -> String {
    let (address, length) = cidr.split_once('/').expect("CIDR notation");
    let first = match address.parse::<Ipv4Addr>() {
        Ok(v4) => Ipv4Addr::from(u32::from(v4) + 1).to_string(),
        Err(_) => {
            let v6: Ipv6Addr = address.parse().expect("an IPv4 or IPv6 address");
            Ipv6Addr::from(u128::from(v6) + 1).to_string()
        }
    };
    format!("{first}/{length}")
}

pub const PROXY_PROCESS: DevNetwork = DevNetwork {
    user: "proxy_process",
    bridge: Some("hgprx0"),
    ipv4: "172.26.0.0/24",
    ipv6: "fdaa:0:4d::/64",
};

pub const DEPLOY_CRASH: DevNetwork = DevNetwork {
    user: "server_deploy_crash",
    bridge: Some("hgdeploy0"),
    ipv4: "172.26.9.0/24",
    ipv6: "fdaa:0:5b::/64",
};

pub const CRASH_RECOVERY: DevNetwork = DevNetwork {
    user: "crash_recovery",
    bridge: Some("hgcrash0"),
    ipv4: "172.24.18.0/24",
    ipv6: "fdaa:0:4c::/64",
};

pub const DEPLOY_ONE_OFFS: DevNetwork = DevNetwork {
    user: "server_deploy_one_offs",
    bridge: Some("hgoneoff0"),
    ipv4: "172.24.17.0/24",
    ipv6: "fdaa:0:5a::/64",
};

pub const EXAMPLE_DEPLOY: DevNetwork = DevNetwork {
    user: "deploy_build (hangar dev --example)",
    bridge: Some("hgexample0"),
    ipv4: "172.24.19.0/24",
    ipv6: "fdaa:0:4f::/64",
};

pub const EXAMPLE_STOPPED: DevNetwork = DevNetwork {
    user: "deploy_build (hangar dev --example stopped while deploying)",
    bridge: Some("hgexstop0"),
    ipv4: "172.24.20.0/24",
    ipv6: "fdaa:0:6e::/64",
};

pub const DOCKER_DEV: DevNetwork = DevNetwork {
    user: "docker_driver (hangar dev --driver docker)",
    bridge: None,
    ipv4: "172.25.250.0/24",
    ipv6: "fdaa:0:4e::/64",
};

/// Every network above.
const ALL: [&DevNetwork; 7] = [
    &PROXY_PROCESS,
    &DEPLOY_CRASH,
    &CRASH_RECOVERY,
    &DEPLOY_ONE_OFFS,
    &EXAMPLE_DEPLOY,
    &EXAMPLE_STOPPED,
    &DOCKER_DEV,
];

/// Bridges and subnets held by others, as (who, bridge, subnets): testbeds
/// (`hgtN`, 172.31.N.0/24 and fdaa:0:49:N::/64, picked free at start), a
/// developer's `hangar dev` (its defaults), the benchmark's platform and
/// Docker peer, and the driver crates' tests.
const RESERVED: [(&str, Option<&str>, &[&str]); 6] = [
    ("hangar-testbed", None, &["172.31.0.0/16", "fdaa:0:49::/48"]),
    (
        "hangar dev's defaults",
        Some("hangar0"),
        &["172.30.0.0/16", "fdaa:0:48::/64"],
    ),
    (
        "hangar-bench's platform",
        Some("hgbench0"),
        &["172.28.0.0/16", "fdaa:0:4b::/64"],
    ),
    ("hangar-bench's Docker peer", None, &["172.27.0.0/16"]),
    (
        "hangar-driver-process tests",
        Some("hgdrvtest0"),
        &["172.29.250.0/24", "fdaa:0:48:fa::/64"],
    ),
    (
        "hangar-driver-docker docker_specifics",
        None,
        &["172.29.251.0/24", "fdaa:0:48:fb::/64"],
    ),
];

/// A subnet's address (IPv4 in the top 32 bits), prefix length and family.
fn prefix(cidr: &str) -> (u128, u32, u8) {
    let (address, length) = cidr.split_once('/').expect("CIDR notation");
    let length: u32 = length.parse().expect("prefix length");
    match address.parse::<Ipv4Addr>() {
        Ok(v4) => (u128::from(u32::from(v4)) << 96, length, 4),
        Err(_) => {
            let v6: Ipv6Addr = address.parse().expect("an IPv4 or IPv6 address");
            (u128::from(v6), length, 6)
        }
    }
}

/// Whether two subnets share an address.
fn overlap(a: &str, b: &str) -> bool {
    let ((a, a_len, a_family), (b, b_len, b_family)) = (prefix(a), prefix(b));
    let mask = u128::MAX.checked_shl(128 - a_len.min(b_len)).unwrap_or(0);
    a_family == b_family && a & mask == b & mask
}

#[test]
fn no_two_dev_networks_share_a_bridge_or_a_subnet() {
    assert!(overlap("172.27.0.0/16", "172.27.0.0/24"));
    assert!(!overlap("172.24.17.0/24", "172.24.18.0/24"));
    assert!(overlap("fdaa:0:49::/48", "fdaa:0:49:7::/64"));
    assert!(!overlap("fdaa:0:48::/64", "fdaa:0:48:fa::/64"));
    assert_eq!(gateway("172.26.9.0/24"), "172.26.9.1/24");
    assert_eq!(gateway("fdaa:0:5b::/64"), "fdaa:0:5b::1/64");
    let mut others: Vec<(&str, Option<&str>, Vec<&str>)> = RESERVED
        .iter()
        .map(|(user, bridge, subnets)| (*user, *bridge, subnets.to_vec()))
        .collect();
    for network in ALL {
        for (user, bridge, subnets) in &others {
            assert!(
                network.bridge.is_none() || network.bridge != *bridge,
                "{} and {user} share a bridge",
                network.user
            );
            for mine in [network.ipv4, network.ipv6] {
                if let Some(theirs) = subnets.iter().find(|s| overlap(mine, s)) {
                    panic!("{} ({mine}) overlaps {user} ({theirs})", network.user);
                }
            }
        }
        others.push((
            network.user,
            network.bridge,
            vec![network.ipv4, network.ipv6],
        ));
    }
}
