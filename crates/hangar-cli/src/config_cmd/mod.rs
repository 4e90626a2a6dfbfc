//! `hangar config validate|show|env|save`: fly.toml commands. The logic of
//! the first three lives in `hangar-config`; this module defines the
//! arguments and wires them. `save` (`save.rs`) asks the platform.

mod save;

use clap::{Args, Subcommand};

use hangar_config::cli::{env_command, show_command, validate_command, ShowFormat};

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
    /// Write the app's deployed config (its latest complete release's
    /// fly.toml) to the config path
    Save(ConfigSaveArgs),
}

#[derive(Debug, Args)]
pub struct ConfigValidateArgs {
    /// Treat warnings (such as unknown keys) as errors
    #[arg(long)]
    pub strict: bool,
}

#[derive(Debug, Args)]
pub struct ConfigShowArgs {
    /// Print as YAML instead of TOML (the global --json prints JSON)
    #[arg(long)]
    pub yaml: bool,
}

#[derive(Debug, Args)]
pub struct ConfigEnvArgs {}

#[derive(Debug, Args)]
pub struct ConfigSaveArgs {}

pub(crate) async fn run(ctx: &Context, command: ConfigCommand) -> anyhow::Result<i32> {
    let mut stdout = std::io::stdout().lock();
    match command {
        ConfigCommand::Validate(args) => {
            validate_command(&ctx.config_path(), args.strict, &mut stdout)
        }
        ConfigCommand::Show(args) => {
            let format = if ctx.output.is_json() {
                ShowFormat::Json
            } else if args.yaml {
                ShowFormat::Yaml
            } else {
                ShowFormat::Toml
            };
            show_command(&ctx.config_path(), format, &mut stdout)
        }
        ConfigCommand::Env(_) => env_command(&ctx.config_path(), &mut stdout),
        ConfigCommand::Save(_) => {
            drop(stdout);
            save::run(ctx).await
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

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
        let (cli, ConfigCommand::Validate(args)) =
            config(&["validate", "--strict", "-c", "x/fly.toml"])
        else {
            panic!()
        };
        assert!(args.strict);
        assert_eq!(cli.config, Some(PathBuf::from("x/fly.toml")));
        let (cli, ConfigCommand::Show(args)) = config(&["show", "--json"]) else {
            panic!()
        };
        assert!(cli.json && !args.yaml);
        assert!(matches!(config(&["env"]).1, ConfigCommand::Env(_)));
        assert!(matches!(config(&["save"]).1, ConfigCommand::Save(_)));
    }

    #[test]
    fn a_missing_file_is_reported_with_exit_code_1() {
        let dir = std::env::temp_dir().join(format!("hangar-cli-config-{}", std::process::id()));
        let (cli, command) = config(&["validate", "-c", dir.join("fly.toml").to_str().unwrap()]);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let code = runtime.block_on(run(&Context::new(&cli), command)).unwrap();
        assert_eq!(code, 1);
    }
}
