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
mod auth;
mod autoscale;
mod cli;
mod completion;
mod config_cmd;
mod context;
mod deploy;
mod dev;
mod doctor;
mod error;
mod fleet;
mod launch;
mod logs;
mod machine;
mod open;
pub mod output;
pub mod parse;
mod prompt;
mod proxy_args;
mod regions;
mod releases;
mod scale;
mod secrets;
mod ssh;
mod status;
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
pub use proxy_args::ProxyArgs;
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
        Command::Proxy(_) => Err(CliError::HandledByBinary { command: "proxy" }.into()),
        Command::MachineInit(_) => Err(CliError::HandledByBinary {
            command: "machine-init",
        }
        .into()),
        Command::Version => version(&ctx),
        Command::Launch(args) => launch::run(&ctx, args).await,
        Command::Deploy(args) => deploy::run(&ctx, args).await,
        Command::Status(args) => status::run(&ctx, args).await,
        Command::Open(args) => open::run(&ctx, args),
        Command::Logs(args) => logs::run(&ctx, args).await,
        Command::Ssh(command) => ssh::run(&ctx, command).await,
        Command::Scale(command) => scale::run(&ctx, command).await,
        Command::Autoscale(command) => autoscale::run(&ctx, command).await,
        Command::Secrets(command) => secrets::run(&ctx, command).await,
        Command::Releases(args) => releases::run(&ctx, args).await,
        Command::Regions(command) => regions::run(&ctx, command).await,
        Command::Auth(command) => auth::run(&ctx, command).await,
        Command::Doctor(args) => doctor::run(&ctx, args).await,
        Command::Completion(args) => completion::run(args),
        Command::Apps(command) => apps::run(&ctx, command).await,
        Command::Machine(command) => machine::run(&ctx, command).await,
        Command::Volumes(command) => volumes::run(&ctx, command).await,
        Command::Config(command) => config_cmd::run(&ctx, command).await,
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
