//! `hangar config validate|show|env`: fly.toml commands. Their logic lives
//! in `hangar-config`; this module defines the arguments and wires them.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use hangar_config::cli::{env_command, show_command, validate_command, ShowFormat};
use hangar_config::DEFAULT_CONFIG_NAME;

use crate::context::Context;

/// `hangar config …`
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Check fly.toml and report every problem
    Validate(ConfigValidateArgs),
    /// Print fly.toml as the platform reads it
    Show(ConfigShowArgs),
    /// Print the environment variables fly.toml sets
    Env(ConfigEnvArgs),
}

#[derive(Debug, Args)]
pub struct ConfigValidateArgs {
    /// Treat warnings (such as unknown keys) as errors
    #[arg(long)]
    pub strict: bool,
    /// Path to fly.toml (or its directory) [default: ./fly.toml]
    #[arg(short = 'c', long, value_name = "PATH")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ConfigShowArgs {
    /// Print as YAML instead of TOML (the global --json prints JSON)
    #[arg(long)]
    pub yaml: bool,
    /// Path to fly.toml (or its directory) [default: ./fly.toml]
    #[arg(short = 'c', long, value_name = "PATH")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ConfigEnvArgs {
    /// Path to fly.toml (or its directory) [default: ./fly.toml]
    #[arg(short = 'c', long, value_name = "PATH")]
    pub config: Option<PathBuf>,
}

pub(crate) fn run(ctx: &Context, command: ConfigCommand) -> anyhow::Result<i32> {
    let mut stdout = std::io::stdout().lock();
    match command {
        ConfigCommand::Validate(args) => {
            validate_command(&config_path(args.config), args.strict, &mut stdout)
        }
        ConfigCommand::Show(args) => {
            let format = if ctx.output.is_json() {
                ShowFormat::Json
            } else if args.yaml {
                ShowFormat::Yaml
            } else {
                ShowFormat::Toml
            };
            show_command(&config_path(args.config), format, &mut stdout)
        }
        ConfigCommand::Env(args) => env_command(&config_path(args.config), &mut stdout),
    }
}

/// `-c PATH`, else `fly.toml` in the current directory.
fn config_path(given: Option<PathBuf>) -> PathBuf {
    given.unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG_NAME))
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::{Cli, Command};

    fn config(args: &[&str]) -> (Cli, ConfigCommand) {
        let mut cli = Cli::try_parse_from([&["hangar", "config"], args].concat()).unwrap();
        let command = std::mem::replace(&mut cli.command, Command::Version);
        match command {
            Command::Config(command) => (cli, command),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn flags_parse() {
        let (_, ConfigCommand::Validate(args)) =
            config(&["validate", "--strict", "-c", "x/fly.toml"])
        else {
            panic!()
        };
        assert!(args.strict);
        assert_eq!(args.config, Some(PathBuf::from("x/fly.toml")));
        let (cli, ConfigCommand::Show(args)) = config(&["show", "--json"]) else {
            panic!()
        };
        assert!(cli.json && !args.yaml);
        assert!(matches!(config(&["env"]).1, ConfigCommand::Env(_)));
    }

    #[test]
    fn a_missing_file_is_reported_with_exit_code_1() {
        let dir = std::env::temp_dir().join(format!("hangar-cli-config-{}", std::process::id()));
        let (cli, command) = config(&["validate", "-c", dir.join("fly.toml").to_str().unwrap()]);
        assert_eq!(run(&Context::new(&cli), command).unwrap(), 1);
    }
}
