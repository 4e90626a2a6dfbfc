//! The Hangar-managed bridge networks Machines get their private addresses on.
//!
//! One user-defined bridge network per agent subnet, named
//! `<prefix>-<subnet>-<prefix length>`, with the gateway the agent chose, so
//! that a container's static address is exactly the one in its
//! [`NetworkSpec`]. IPv6 is enabled when the daemon accepts it; otherwise the
//! network is IPv4-only and the driver says so in its log.

use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr};

use bollard::models::{
    EndpointIpamConfig, EndpointSettings, Ipam, IpamConfig, NetworkCreateRequest, NetworkingConfig,
};
use bollard::query_parameters::{InspectNetworkOptions, ListContainersOptionsBuilder};
use bollard::Docker;
use hangar_driver::{DriverError, NetworkSpec};
use sha2::{Digest, Sha256};

use crate::client::{daemon_error, is_not_found, message};

/// The network a spec's addresses belong to.
#[derive(Debug, Clone)]
pub(crate) struct ManagedNetwork {
    pub name: String,
    /// Whether the network carries the spec's IPv6 address too.
    pub ipv6: bool,
}

fn network_of4(ip: Ipv4Addr, prefix: u8) -> Ipv4Addr {
    let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
    Ipv4Addr::from(u32::from(ip) & mask)
}

fn network_of6(ip: Ipv6Addr, prefix: u8) -> Ipv6Addr {
    let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
    Ipv6Addr::from(u128::from(ip) & mask)
}

/// The network name for `spec`'s IPv4 subnet.
pub(crate) fn network_name(prefix: &str, spec: &NetworkSpec) -> String {
    let net = network_of4(spec.ipv4, spec.ipv4_prefix);
    format!("{prefix}-{net}-{}", spec.ipv4_prefix)
}

/// The host bridge device name (at most 15 bytes) for network `name`.
fn bridge_device(name: &str) -> String {
    let digest = hex::encode(Sha256::digest(name.as_bytes()));
    format!("hgd-{}", &digest[..10])
}

/// Finds or creates the network for `spec`.
pub(crate) async fn ensure(
    docker: &Docker,
    prefix: &str,
    spec: &NetworkSpec,
) -> Result<ManagedNetwork, DriverError> {
    let name = network_name(prefix, spec);
    match docker
        .inspect_network(&name, None::<InspectNetworkOptions>)
        .await
    {
        Ok(existing) => {
            return Ok(ManagedNetwork {
                ipv6: existing.enable_ipv6.unwrap_or(false),
                name,
            })
        }
        Err(e) if is_not_found(&e) => {}
        Err(e) => return Err(daemon_error("inspect network", &e)),
    }
    let subnet4 = IpamConfig {
        subnet: Some(format!(
            "{}/{}",
            network_of4(spec.ipv4, spec.ipv4_prefix),
            spec.ipv4_prefix
        )),
        gateway: Some(spec.gateway4.to_string()),
        ..Default::default()
    };
    let subnet6 = IpamConfig {
        subnet: Some(format!(
            "{}/{}",
            network_of6(spec.ipv6, spec.ipv6_prefix),
            spec.ipv6_prefix
        )),
        gateway: Some(spec.gateway6.to_string()),
        ..Default::default()
    };
    let request = |configs: Vec<IpamConfig>, ipv6: bool| NetworkCreateRequest {
        name: name.clone(),
        driver: Some("bridge".into()),
        enable_ipv6: Some(ipv6),
        ipam: Some(Ipam {
            driver: Some("default".into()),
            config: Some(configs),
            options: None,
        }),
        options: Some(HashMap::from([(
            "com.docker.network.bridge.name".to_owned(),
            bridge_device(&name),
        )])),
        labels: Some(HashMap::from([(
            crate::MANAGED_LABEL.to_owned(),
            "true".to_owned(),
        )])),
        ..Default::default()
    };
    match docker
        .create_network(request(vec![subnet4.clone(), subnet6], true))
        .await
    {
        Ok(_) => Ok(ManagedNetwork { name, ipv6: true }),
        Err(first) => {
            tracing::warn!(
                network = %name,
                error = %message(&first),
                "Docker refused an IPv6 subnet; Machines on this network get IPv4 addresses only"
            );
            docker
                .create_network(request(vec![subnet4], false))
                .await
                .map_err(|e| {
                    DriverError::HostSetup(format!(
                    "cannot create the Docker network {name} for {}/{}: {} (another network or \
                     host bridge may use this subnet; remove it or configure another subnet)",
                    network_of4(spec.ipv4, spec.ipv4_prefix),
                    spec.ipv4_prefix,
                    message(&e)
                ))
                })?;
            Ok(ManagedNetwork { name, ipv6: false })
        }
    }
}

/// The container's endpoint on `network` with `spec`'s static addresses.
pub(crate) fn endpoint(network: &ManagedNetwork, spec: &NetworkSpec) -> NetworkingConfig {
    let settings = EndpointSettings {
        ipam_config: Some(EndpointIpamConfig {
            ipv4_address: Some(spec.ipv4.to_string()),
            ipv6_address: network.ipv6.then(|| spec.ipv6.to_string()),
            link_local_ips: None,
        }),
        ..Default::default()
    };
    NetworkingConfig {
        endpoints_config: Some(HashMap::from([(network.name.clone(), settings)])),
    }
}

/// Removes `name` when no container (running or not) uses it any more.
pub(crate) async fn remove_if_unused(docker: &Docker, name: &str) {
    let options = ListContainersOptionsBuilder::default()
        .all(true)
        .filters(&HashMap::from([("network", vec![name])]))
        .build();
    match docker.list_containers(Some(options)).await {
        Ok(users) if users.is_empty() => {}
        _ => return,
    }
    match docker.remove_network(name).await {
        Ok(()) => tracing::debug!(network = %name, "removed unused Docker network"),
        Err(e) if is_not_found(&e) => {}
        Err(e) => tracing::debug!(network = %name, error = %message(&e), "network kept"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fit_the_host() {
        let spec = NetworkSpec {
            ipv4: Ipv4Addr::new(172, 31, 7, 9),
            ipv4_prefix: 24,
            gateway4: Ipv4Addr::new(172, 31, 7, 1),
            ipv6: "fdaa:0:48::9".parse().unwrap(),
            ipv6_prefix: 64,
            gateway6: "fdaa:0:48::1".parse().unwrap(),
        };
        let name = network_name("hangar", &spec);
        assert_eq!(name, "hangar-172.31.7.0-24");
        assert!(bridge_device(&name).len() <= 15);
        assert_eq!(
            network_of6(spec.ipv6, 64),
            "fdaa:0:48::".parse::<Ipv6Addr>().unwrap()
        );
    }
}
