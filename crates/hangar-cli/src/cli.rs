//! The command tree: `hangar <command> [flags]`, shaped like flyctl's.

use clap::{Parser, Subcommand};

use std::path::PathBuf;

use crate::apps::AppsCommand;
use crate::auth::AuthCommand;
use crate::autoscale::AutoscaleCommand;
use crate::completion::CompletionArgs;
use crate::config_cmd::ConfigCommand;
use crate::deploy::DeployArgs;
use crate::dev::{DevArgs, MachineInitArgs};
use crate::doctor::DoctorArgs;
use crate::launch::LaunchArgs;
use crate::logs::LogsArgs;
use crate::machine::MachineCommand;
use crate::open::OpenArgs;
use crate::regions::RegionsCommand;
use crate::releases::ReleasesArgs;
use crate::scale::ScaleCommand;
use crate::secrets::SecretsCommand;
use crate::ssh::SshCommand;
use crate::status::StatusArgs;
use crate::volumes::VolumesCommand;

/// Heading of the flags every command takes.
const GLOBAL: &str = "Global options";

/// Run apps as fast-starting Machines on your own servers.
#[derive(Debug, Parser)]
#[command(
    name = "hangar",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    /// Print results as JSON
    #[arg(short = 'j', long, global = true, help_heading = GLOBAL)]
    pub json: bool,

    /// Answer yes to every confirmation (required to destroy, scale down or roll back without a terminal); launch: accept the defaults and overwrite fly.toml
    #[arg(short = 'y', long, global = true, help_heading = GLOBAL)]
    pub yes: bool,

    /// App to act on
    #[arg(
        short = 'a',
        long,
        global = true,
        value_name = "NAME",
        env = "HANGAR_APP"
    )]
    pub app: Option<String>,

    /// Path to fly.toml, or its directory [default: ./fly.toml]
    #[arg(short = 'c', long, global = true, value_name = "PATH", help_heading = GLOBAL)]
    pub config: Option<PathBuf>,

    /// Machines API URL [default: $HANGAR_API_URL, else the one `hangar dev` saved]
    #[arg(long, global = true, value_name = "URL", help_heading = GLOBAL)]
    pub api_url: Option<String>,

    /// API token [default: $HANGAR_API_TOKEN, else the one `hangar dev` saved]
    #[arg(short = 't', long, global = true, value_name = "TOKEN", help_heading = GLOBAL)]
    pub access_token: Option<String>,
}

/// Every `hangar` command.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the whole platform on this machine: API, store and agent in one process
    Dev(DevArgs),

    /// Run the edge proxy alone, following a control plane's route state
    Proxy(crate::proxy_args::ProxyArgs),

    /// Create an app from the current directory: fly.toml, the app, a first deploy
    Launch(LaunchArgs),

    /// Deploy fly.toml with an image (server-side; `deploy status ID --watch` re-attaches)
    Deploy(DeployArgs),

    /// Show the app, its current release and its Machines by process group
    Status(StatusArgs),

    /// Print (and on a terminal, open) the app's URL
    Open(OpenArgs),

    /// Follow the logs of every Machine of the app
    Logs(LogsArgs),

    /// Run commands in the app's Machines
    #[command(subcommand)]
    Ssh(SshCommand),

    /// Change how many Machines run, where, and how big they are
    #[command(subcommand)]
    Scale(ScaleCommand),

    /// Let the proxy start and stop Machines with traffic, between min and max
    #[command(subcommand)]
    Autoscale(AutoscaleCommand),

    /// Manage app secrets (environment variables set at Machine boot)
    #[command(subcommand)]
    Secrets(SecretsCommand),

    /// List the app's releases; `releases rollback [VERSION]` returns to one
    Releases(ReleasesArgs),

    /// List regions
    #[command(subcommand)]
    Regions(RegionsCommand),

    /// Log in to a Hangar API, log out, show who you are
    #[command(subcommand)]
    Auth(AuthCommand),

    /// Check that the CLI can reach and use the platform
    Doctor(DoctorArgs),

    /// Print a shell completion script
    Completion(CompletionArgs),

    /// Manage apps
    #[command(subcommand, visible_alias = "app")]
    Apps(AppsCommand),

    /// Manage Machines
    #[command(subcommand, visible_aliases = ["machines", "m"])]
    Machine(MachineCommand),

    /// Manage volumes: persistent disk for Machines
    #[command(subcommand, visible_alias = "volume")]
    Volumes(VolumesCommand),

    /// Check and show fly.toml
    #[command(subcommand)]
    Config(ConfigCommand),

    /// Print hangar's version
    Version,

    /// Init process inside a Machine (internal)
    #[command(hide = true)]
    MachineInit(MachineInitArgs),
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_tree_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_flags_work_after_the_subcommand() {
        let cli =
            Cli::try_parse_from(["hangar", "machine", "list", "-a", "demo", "--json"]).unwrap();
        assert_eq!(cli.app.as_deref(), Some("demo"));
        assert!(cli.json);
        assert!(matches!(
            cli.command,
            Command::Machine(MachineCommand::List(_))
        ));
    }

    #[test]
    fn dev_defaults() {
        let cli = Cli::try_parse_from(["hangar", "dev"]).unwrap();
        let Command::Dev(dev) = cli.command else {
            panic!("not dev")
        };
        assert_eq!(dev.api_listen.to_string(), "127.0.0.1:4280");
        assert_eq!(dev.region, "dev");
        assert!(!dev.example);
        assert_eq!(dev.driver, crate::DriverKind::Process);

        let cli = Cli::try_parse_from([
            "hangar",
            "dev",
            "--data-dir",
            "/tmp/h",
            "--api-listen",
            "127.0.0.1:0",
            "--token",
            "t0k",
            "--region",
            "ams",
            "--example",
            "--driver",
            "process",
        ])
        .unwrap();
        let Command::Dev(dev) = cli.command else {
            panic!("not dev")
        };
        assert_eq!(dev.data_dir_or_default().unwrap().to_str(), Some("/tmp/h"));
        assert_eq!(dev.api_listen.port(), 0);
        assert_eq!(dev.token.as_deref(), Some("t0k"));
        assert_eq!(dev.region, "ams");
        assert!(dev.example);
    }

    #[test]
    fn machine_init_takes_everything_after_it() {
        let cli = Cli::try_parse_from(["hangar", "machine-init", "--", "/bin/sh", "-c", "echo hi"])
            .unwrap();
        let Command::MachineInit(init) = cli.command else {
            panic!("not machine-init")
        };
        assert_eq!(init.args, ["/bin/sh", "-c", "echo hi"]);

        // The binary hands `machine-init` its arguments before clap runs
        // (main.rs); through clap, flags that are also global ones (such as
        // `--config`) need a `--` first.
        let cli =
            Cli::try_parse_from(["hangar", "machine-init", "--", "--config", "/x.json"]).unwrap();
        let Command::MachineInit(init) = cli.command else {
            panic!("not machine-init")
        };
        assert_eq!(init.args, ["--config", "/x.json"]);
    }

    #[test]
    fn machine_init_is_hidden_from_help() {
        let help = Cli::command().render_help().to_string();
        assert!(!help.contains("machine-init"), "{help}");
        assert!(help.contains("machine"), "{help}");
    }
}
