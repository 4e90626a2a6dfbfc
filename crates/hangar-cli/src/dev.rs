//! Arguments of the commands the `hangar` binary runs itself: `hangar dev`
//! and the hidden `hangar machine-init`.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, ValueEnum};

/// `hangar dev`: the whole platform (API, store, agent) in one process.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct DevArgs {
    /// Where the store, images, machines, logs, the token and the API URL
    /// live [default: ~/.local/share/hangar/dev]
    #[arg(long, value_name = "DIR", env = "HANGAR_DATA_DIR")]
    pub data_dir: Option<PathBuf>,

    /// Address the Machines API listens on
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:4280")]
    pub api_listen: SocketAddr,

    /// Bearer token the API accepts [default: the one saved in the data dir,
    /// or a new random one]
    #[arg(
        long,
        value_name = "TOKEN",
        env = "HANGAR_API_TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,

    /// Region name of this host
    #[arg(long, value_name = "NAME", default_value = "dev")]
    pub region: String,

    /// Prepare the bundled example app's image and run it as a Machine
    #[arg(long)]
    pub example: bool,

    /// How Machines are run
    #[arg(long, value_enum, default_value_t = DriverKind::Process)]
    pub driver: DriverKind,

    /// Address the edge proxy listens on for HTTP (it stands for public
    /// port 80: services with `port = 80` and the `http` handler answer here)
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:4281")]
    pub proxy_listen: SocketAddr,

    /// Address the proxy terminates TLS on (it stands for public port 443:
    /// services with `port = 443` and handlers `tls` + `http` answer here)
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:4443")]
    pub proxy_tls_listen: SocketAddr,

    /// Directory of operator certificates (`<host>.crt` + `<host>.key`,
    /// `_wildcard.<domain>.crt` for `*.<domain>`); other app hostnames get a
    /// self-signed certificate
    #[arg(long, value_name = "DIR")]
    pub proxy_tls_cert_dir: Option<PathBuf>,

    /// Threads serving the proxy's client connections, each with an event
    /// loop of its own [default: one per CPU]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub proxy_workers: Option<u16>,

    /// Address of the proxy's Prometheus metrics (`GET /metrics`)
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:4282")]
    pub proxy_metrics_listen: SocketAddr,

    /// Address raw TCP and proxy_proto services listen on, each at its own
    /// public port (one app per port on this address)
    #[arg(long, value_name = "IP", default_value = "127.0.0.1")]
    pub proxy_tcp_ip: std::net::IpAddr,

    /// Address of the agent's Machine control endpoint (start/stop for
    /// proxies running apart, token-authenticated); published in the route
    /// state
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:4290")]
    pub agent_listen: SocketAddr,

    /// ACME directory URL for certificates of custom domains (e.g. Let's
    /// Encrypt's or a local Pebble's)
    #[arg(long, value_name = "URL")]
    pub acme_directory: Option<String>,

    /// Contact email for the ACME account
    #[arg(long, value_name = "EMAIL", requires = "acme_directory")]
    pub acme_email: Option<String>,

    /// Apps answer at `<app>.<DOMAIN>` on the proxy
    #[arg(long, value_name = "DOMAIN", default_value = "localhost")]
    pub app_domain: String,

    /// Host bridge the Machines are attached to
    #[arg(long, value_name = "NAME", default_value = "hangar0")]
    pub bridge: String,

    /// IPv4 subnet of the Machines' private addresses (the bridge takes the
    /// first address); change it if it collides with a network of yours
    #[arg(long, value_name = "CIDR", default_value = "172.30.0.0/16", value_parser = parse_ipv4_cidr)]
    pub machine_subnet: (std::net::Ipv4Addr, u8),

    /// IPv6 subnet of the Machines' private addresses
    #[arg(long, value_name = "CIDR", default_value = "fdaa:0:48::/64", value_parser = parse_ipv6_cidr)]
    pub machine_subnet6: (std::net::Ipv6Addr, u8),

    /// Only run images from these sources: registry hosts (`127.0.0.1:5000`,
    /// `docker.io`) and local forms (`oci`, `oci-archive`, `docker-archive`);
    /// the built-in registry is always allowed [default: any]
    #[arg(long, value_name = "SOURCE", value_delimiter = ',')]
    pub allowed_image_sources: Vec<String>,
}

impl DevArgs {
    /// `--data-dir`, else `$HANGAR_DATA_DIR` (read by clap), else
    /// `~/.local/share/hangar/dev`: the same place the client looks for the
    /// token and API URL. `None` only when `HOME` is unset too.
    pub fn data_dir_or_default(&self) -> Option<PathBuf> {
        self.data_dir
            .clone()
            .or_else(hangar_client::discovery::default_dev_data_dir)
    }
}

/// Machine drivers `hangar dev` can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DriverKind {
    /// OCI image root filesystem, Linux namespaces and cgroups where possible
    Process,
    /// Docker Engine containers (needs a reachable Docker daemon); Machines get
    /// their --machine-subnet addresses on a Docker network (--bridge is unused)
    Docker,
}

/// `hangar machine-init …`: the init process inside a Machine (internal).
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct MachineInitArgs {
    /// Everything after `machine-init`, passed through untouched
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
    pub args: Vec<String>,
}

/// Parses `a.b.c.d/n` with n between 8 and 30 and no host bits set.
pub fn parse_ipv4_cidr(text: &str) -> Result<(std::net::Ipv4Addr, u8), String> {
    let (addr, prefix) = text
        .split_once('/')
        .ok_or_else(|| format!("{text:?} is not a CIDR such as 172.30.0.0/16"))?;
    let addr: std::net::Ipv4Addr = addr
        .parse()
        .map_err(|_| format!("{addr:?} is not an IPv4 address"))?;
    let prefix: u8 = prefix
        .parse()
        .map_err(|_| format!("{prefix:?} is not a prefix length"))?;
    if !(8..=30).contains(&prefix) {
        return Err(format!(
            "the prefix length must be between 8 and 30, not {prefix}"
        ));
    }
    if u32::from(addr) & (u32::MAX >> prefix) != 0 {
        return Err(format!(
            "{text} has host bits set; did you mean {}/{prefix}?",
            std::net::Ipv4Addr::from(u32::from(addr) & !(u32::MAX >> prefix))
        ));
    }
    Ok((addr, prefix))
}

/// Parses an IPv6 `addr/n` with n between 48 and 120 and no host bits set.
pub fn parse_ipv6_cidr(text: &str) -> Result<(std::net::Ipv6Addr, u8), String> {
    let (addr, prefix) = text
        .split_once('/')
        .ok_or_else(|| format!("{text:?} is not a CIDR such as fdaa:0:48::/64"))?;
    let addr: std::net::Ipv6Addr = addr
        .parse()
        .map_err(|_| format!("{addr:?} is not an IPv6 address"))?;
    let prefix: u8 = prefix
        .parse()
        .map_err(|_| format!("{prefix:?} is not a prefix length"))?;
    if !(48..=120).contains(&prefix) {
        return Err(format!(
            "the prefix length must be between 48 and 120, not {prefix}"
        ));
    }
    if u128::from(addr) & (u128::MAX >> prefix) != 0 {
        return Err(format!("{text} has host bits set"));
    }
    Ok((addr, prefix))
}

#[cfg(test)]
mod cidr_tests {
    use super::*;

    #[test]
    fn subnets_parse_and_bad_ones_say_why() {
        assert_eq!(
            parse_ipv4_cidr("10.42.0.0/16").unwrap(),
            ("10.42.0.0".parse().unwrap(), 16)
        );
        assert!(parse_ipv4_cidr("10.42.0.1/16")
            .unwrap_err()
            .contains("did you mean 10.42.0.0/16"));
        assert!(parse_ipv4_cidr("10.42.0.0").is_err());
        assert!(parse_ipv4_cidr("10.42.0.0/31").is_err());
        assert_eq!(parse_ipv6_cidr("fdaa:0:48::/64").unwrap().1, 64);
        assert!(parse_ipv6_cidr("fdaa::1/64").is_err());
    }
}
