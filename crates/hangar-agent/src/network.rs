//! Private addresses: each Machine gets one IPv4 and one IPv6 address on its
//! host's bridge, stable for the Machine's life.

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, Ipv6Addr};

use hangar_driver::NetworkSpec;

/// The host's machine subnets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subnets {
    pub ipv4: Ipv4Addr,
    pub ipv4_prefix: u8,
    pub ipv6: Ipv6Addr,
    pub ipv6_prefix: u8,
}

impl Default for Subnets {
    fn default() -> Self {
        Subnets {
            ipv4: Ipv4Addr::new(172, 30, 0, 0),
            ipv4_prefix: 16,
            ipv6: "fdaa:0:48::".parse().unwrap(),
            ipv6_prefix: 64,
        }
    }
}

impl Subnets {
    pub fn gateway4(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.ipv4) + 1)
    }
    pub fn gateway6(&self) -> Ipv6Addr {
        Ipv6Addr::from(u128::from(self.ipv6) + 1)
    }
    fn capacity(&self) -> u32 {
        (1u32 << (32 - u32::from(self.ipv4_prefix))).saturating_sub(3)
    }
    /// The addresses of host index `n` (n ≥ 2; 0 is the network, 1 the gateway).
    pub fn addresses(&self, n: u32) -> (Ipv4Addr, Ipv6Addr) {
        (
            Ipv4Addr::from(u32::from(self.ipv4) + n),
            Ipv6Addr::from(u128::from(self.ipv6) + u128::from(n)),
        )
    }
    fn index_of(&self, ip: Ipv4Addr) -> u32 {
        u32::from(ip).wrapping_sub(u32::from(self.ipv4))
    }
    /// What the driver needs to configure a Machine with these addresses.
    pub fn network_spec(&self, ipv4: Ipv4Addr, ipv6: Ipv6Addr) -> NetworkSpec {
        NetworkSpec {
            ipv4,
            ipv4_prefix: self.ipv4_prefix,
            gateway4: self.gateway4(),
            ipv6,
            ipv6_prefix: self.ipv6_prefix,
            gateway6: self.gateway6(),
        }
    }
}

/// Allocates host indexes; rebuilt from the ledger at start.
#[derive(Debug)]
pub struct Ipam {
    subnets: Subnets,
    used: BTreeSet<u32>,
}

/// Every address of the subnet is taken.
#[derive(Debug, thiserror::Error)]
#[error(
    "no free private address left in {0}/{1}: destroy unused machines or configure a larger subnet"
)]
pub struct SubnetFull(pub Ipv4Addr, pub u8);

impl Ipam {
    pub fn new(subnets: Subnets) -> Self {
        Ipam {
            subnets,
            used: BTreeSet::new(),
        }
    }

    /// Marks an address found in the ledger as taken.
    pub fn reserve(&mut self, ip: Ipv4Addr) {
        self.used.insert(self.subnets.index_of(ip));
    }

    pub fn allocate(&mut self) -> Result<(Ipv4Addr, Ipv6Addr), SubnetFull> {
        let n = (2..self.subnets.capacity() + 2)
            .find(|n| !self.used.contains(n))
            .ok_or(SubnetFull(self.subnets.ipv4, self.subnets.ipv4_prefix))?;
        self.used.insert(n);
        Ok(self.subnets.addresses(n))
    }

    pub fn release(&mut self, ip: Ipv4Addr) {
        self.used.remove(&self.subnets.index_of(ip));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocates_lowest_free_and_reuses_released() {
        let mut ipam = Ipam::new(Subnets::default());
        let (a4, a6) = ipam.allocate().unwrap();
        assert_eq!(a4, Ipv4Addr::new(172, 30, 0, 2));
        assert_eq!(a6, "fdaa:0:48::2".parse::<Ipv6Addr>().unwrap());
        ipam.reserve(Ipv4Addr::new(172, 30, 0, 3));
        assert_eq!(ipam.allocate().unwrap().0, Ipv4Addr::new(172, 30, 0, 4));
        ipam.release(a4);
        assert_eq!(ipam.allocate().unwrap().0, a4);
        let mut tiny = Ipam::new(Subnets {
            ipv4_prefix: 30,
            ..Subnets::default()
        });
        tiny.allocate().unwrap();
        assert!(tiny.allocate().is_err());
    }
}
