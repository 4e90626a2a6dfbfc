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

    /// Apps answer at `<app>.<DOMAIN>` on the proxy
    #[arg(long, value_name = "DOMAIN", default_value = "localhost")]
    pub app_domain: String,

    /// Only run images from these sources: registry hosts (`127.0.0.1:5000`,
    /// `docker.io`) and local forms (`oci`, `oci-archive`, `docker-archive`)
    /// [default: any]
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
}

/// `hangar machine-init …`: the init process inside a Machine (internal).
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct MachineInitArgs {
    /// Everything after `machine-init`, passed through untouched
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
    pub args: Vec<String>,
}
