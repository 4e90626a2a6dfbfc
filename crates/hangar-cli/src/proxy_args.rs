//! Arguments of `hangar proxy`: the edge proxy as its own process, fed by
//! the control plane's route stream.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use clap::Args;

/// `hangar proxy`: the edge proxy alone, routing from the control plane's
/// route stream and serving from its last snapshot when that is unreachable.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct ProxyArgs {
    /// Base URL of the control plane whose route state this proxy follows
    /// [default: $HANGAR_API_URL, else the one `hangar dev` saved]
    #[arg(long, value_name = "URL")]
    pub control_plane: Option<String>,

    /// Platform token [default: $HANGAR_API_TOKEN, else the token file
    /// `hangar dev` writes]
    #[arg(
        long,
        value_name = "TOKEN",
        env = "HANGAR_API_TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,

    /// Address to take HTTP on (it stands for public port 80)
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Address to terminate TLS on (it stands for public port 443)
    #[arg(long, value_name = "ADDR")]
    pub tls_listen: Option<SocketAddr>,

    /// Directory of operator certificates (`<host>.crt` + `<host>.key`);
    /// other app hostnames get a self-signed certificate
    #[arg(long, value_name = "DIR")]
    pub tls_cert_dir: Option<PathBuf>,

    /// Threads serving client connections, each with an event loop of its
    /// own [default: one per CPU]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub workers: Option<u16>,

    /// Address of the Prometheus metrics (`GET /metrics`)
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<SocketAddr>,

    /// Apps answer at `<app>.<DOMAIN>`
    #[arg(long, value_name = "DOMAIN", default_value = "localhost")]
    pub app_domain: String,

    /// Where the last route snapshot (and self-signed certificates) are
    /// kept, so that a restarted proxy serves before the control plane
    /// answers [default: ~/.local/share/hangar/proxy]
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,

    /// Address raw TCP and proxy_proto services listen on, each at its own
    /// public port
    #[arg(long, value_name = "IP")]
    pub tcp_ip: Option<IpAddr>,

    /// ACME directory URL for certificates of custom domains
    #[arg(long, value_name = "URL")]
    pub acme_directory: Option<String>,

    /// Contact email for the ACME account
    #[arg(long, value_name = "EMAIL", requires = "acme_directory")]
    pub acme_email: Option<String>,

    /// Region this proxy runs in (Machines here are preferred)
    #[arg(long, value_name = "NAME", default_value = "dev")]
    pub region: String,
}

impl ProxyArgs {
    /// `--state-dir`, else `~/.local/share/hangar/proxy`; `None` only when
    /// `HOME` is unset.
    pub fn state_dir_or_default(&self) -> Option<PathBuf> {
        self.state_dir.clone().or_else(|| {
            std::env::var_os("HOME")
                .map(|home| PathBuf::from(home).join(".local/share/hangar/proxy"))
        })
    }
}
