//! The `hangar` command line, as a library.
//!
//! [`Cli`] is the whole clap command tree, shaped like flyctl's
//! (`hangar apps …`, `hangar machine …`, `hangar volumes …`, global
//! `--app`/`--json`).
//! [`run`] carries out every client-side command against the Machines API
//! through `hangar-client`. The `hangar` binary parses [`Cli`], runs
//! [`Command::Dev`] and [`Command::MachineInit`] itself, and hands the rest
//! to [`run`].
//!
//! Output: tables and detail lists for people (bold headers on a terminal,
//! plain text when piped), the API's JSON with `--json`. Progress notes go to
//! stderr. Errors are returned, each saying what went wrong and what to do;
//! the binary prints them (`{:#}`) and exits 1.

mod apps;
mod cli;
mod config_cmd;
mod context;
mod dev;
mod error;
mod machine;
pub mod output;
pub mod parse;
mod prompt;
mod volumes;

pub use apps::{AppsCommand, AppsCreateArgs, AppsDestroyArgs, AppsListArgs};
pub use cli::{Cli, Command};
pub use config_cmd::{ConfigCommand, ConfigEnvArgs, ConfigShowArgs, ConfigValidateArgs};
pub use dev::{DevArgs, DriverKind, MachineInitArgs};
pub use error::CliError;
pub use machine::{
    CloneArgs, DestroyArgs, ExecArgs, LifecycleArgs, ListArgs, LogsArgs, MachineCommand,
    MachineIdsArgs, RestartArgs, RunArgs, StatusArgs, StopArgs,
};
pub use volumes::{
    SnapshotsCommand, VolumeCreateArgs, VolumeDestroyArgs, VolumeExtendArgs, VolumeIdArgs,
    VolumeListArgs, VolumeUpdateArgs, VolumesCommand,
};

use context::Context;

/// Runs a parsed command line and returns the process exit code: 0 on
/// success; `machine exec` returns the command's own exit code. `Dev` and
/// `MachineInit` are the binary's to run and give an error here.
pub async fn run(cli: Cli) -> anyhow::Result<i32> {
    let ctx = Context::new(&cli);
    match cli.command {
        Command::Dev(_) => Err(CliError::HandledByBinary { command: "dev" }.into()),
        Command::MachineInit(_) => Err(CliError::HandledByBinary {
            command: "machine-init",
        }
        .into()),
        Command::Version => version(&ctx),
        Command::Apps(command) => apps::run(&ctx, command).await,
        Command::Machine(command) => machine::run(&ctx, command).await,
        Command::Volumes(command) => volumes::run(&ctx, command).await,
        Command::Config(command) => config_cmd::run(&ctx, command),
    }
}

fn version(ctx: &Context) -> anyhow::Result<i32> {
    let version = env!("CARGO_PKG_VERSION");
    if ctx.output.is_json() {
        ctx.output
            .json(&serde_json::json!({ "version": version }))?;
    } else {
        ctx.output.line(format_args!("hangar {version}"))?;
    }
    Ok(0)
}
