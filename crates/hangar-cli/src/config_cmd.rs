//! `hangar config validate|show|env`: fly.toml commands. Their logic lives
//! in `hangar-config`; this module only defines the arguments.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::context::Context;
use crate::error::CliError;

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

pub(crate) fn run(_ctx: &Context, command: ConfigCommand) -> anyhow::Result<i32> {
    let subcommand = match command {
        ConfigCommand::Validate(_) => "validate",
        ConfigCommand::Show(_) => "show",
        ConfigCommand::Env(_) => "env",
    };
    Err(CliError::ConfigNotAvailable { subcommand }.into())
}
