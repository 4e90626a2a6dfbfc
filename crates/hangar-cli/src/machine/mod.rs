//! `hangar machine …`: run, inspect and drive Machines of one app.

mod clone;
mod exec;
mod lifecycle;
mod logs;
pub(crate) mod render;
mod run;
mod show;
mod update;
mod wait;

use clap::{Args, Subcommand};
use hangar_types::GoDuration;

use crate::context::Context;
use crate::parse::{parse_duration, parse_signal};

pub(crate) use exec::exec_argv;
pub use run::RunArgs;
pub use update::UpdateArgs;

/// `hangar machine …`
#[derive(Debug, Subcommand)]
pub enum MachineCommand {
    /// Create and start a Machine from an image
    #[command(after_help = "Examples:\n  \
        hangar machine run busybox -a demo -p 80:8080/tcp:http -- httpd -f -p 8080\n  \
        hangar machine run oci:./layout:web -a demo -e MODE=prod --memory 512 --restart on-fail\n  \
        hangar machine run busybox -a demo --rm --cmd 'echo hello'")]
    Run(RunArgs),
    /// List the app's Machines
    #[command(visible_alias = "ls")]
    List(ListArgs),
    /// Show a Machine's details and events
    Status(StatusArgs),
    /// Start stopped, created or suspended Machines
    Start(LifecycleArgs),
    /// Stop running Machines
    Stop(StopArgs),
    /// Restart running Machines
    Restart(RestartArgs),
    /// Suspend running Machines (freeze them; `start` resumes)
    Suspend(LifecycleArgs),
    /// Destroy Machines
    #[command(visible_aliases = ["remove", "rm"])]
    Destroy(DestroyArgs),
    /// Kill Machines with SIGKILL (the restart policy still applies)
    Kill(MachineIdsArgs),
    /// Take Machines out of proxy routing, without stopping them
    Cordon(MachineIdsArgs),
    /// Put cordoned Machines back into proxy routing
    Uncordon(MachineIdsArgs),
    /// Run a command in a Machine and print its output; exits with its exit code
    #[command(after_help = "Examples:\n  \
        hangar machine exec 3d8d413b29d089 -a demo 'ls -la /'\n  \
        hangar machine exec 3d8d413b29d089 -a demo -- sh -c 'echo $HOSTNAME'")]
    Exec(ExecArgs),
    /// Create a copy of a Machine (with new volumes for its mounts)
    Clone(CloneArgs),
    /// Change a Machine's image, size, memory or environment
    Update(UpdateArgs),
    /// Print a Machine's stdout and stderr
    Logs(LogsArgs),
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only print Machine ids
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Include destroyed Machines
    #[arg(long)]
    pub all: bool,
    /// Only Machines in this region
    #[arg(short = 'r', long, value_name = "REGION")]
    pub region: Option<String>,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Machine id
    #[arg(value_name = "ID")]
    pub id: String,
    /// Also print the Machine's config as JSON
    #[arg(short = 'd', long)]
    pub display_config: bool,
}

/// Ids and waiting behaviour shared by start, suspend and the like.
#[derive(Debug, Args)]
pub struct LifecycleArgs {
    /// Machine ids
    #[arg(value_name = "ID", required = true)]
    pub ids: Vec<String>,
    /// Return once the API accepted the request, without waiting
    #[arg(long)]
    pub detach: bool,
    /// How long to wait for each Machine to settle
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    pub wait_timeout: GoDuration,
}

#[derive(Debug, Args)]
pub struct StopArgs {
    #[command(flatten)]
    pub machines: LifecycleArgs,
    /// Signal to stop with [default: the Machine's stop_config, else SIGINT]
    #[arg(short = 's', long, value_name = "SIGNAL", value_parser = parse_signal)]
    pub signal: Option<String>,
    /// How long to wait after the signal before killing the Machine
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Option<GoDuration>,
}

#[derive(Debug, Args)]
pub struct RestartArgs {
    /// Machine ids
    #[arg(value_name = "ID", required = true)]
    pub ids: Vec<String>,
    /// Signal for the stop half of the restart
    #[arg(short = 's', long, value_name = "SIGNAL", value_parser = parse_signal)]
    pub signal: Option<String>,
    /// How long to wait after the signal before killing the Machine
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Option<GoDuration>,
}

#[derive(Debug, Args)]
pub struct DestroyArgs {
    /// Machine ids
    #[arg(value_name = "ID", required = true)]
    pub ids: Vec<String>,
    /// Destroy even if running (the Machine is killed)
    #[arg(short = 'f', long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct MachineIdsArgs {
    /// Machine ids
    #[arg(value_name = "ID", required = true)]
    pub ids: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ExecArgs {
    /// Machine id
    #[arg(value_name = "ID")]
    pub id: String,
    /// Command: one quoted string (split like a shell would) or several arguments
    #[arg(
        value_name = "COMMAND",
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub command: Vec<String>,
    /// Give up on the command after this long
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Option<GoDuration>,
}

#[derive(Debug, Args)]
pub struct CloneArgs {
    /// Id of the Machine to copy
    #[arg(value_name = "ID")]
    pub id: String,
    /// Name of the new Machine [default: generated]
    #[arg(short = 'n', long)]
    pub name: Option<String>,
    /// Region of the new Machine [default: the source's]
    #[arg(short = 'r', long)]
    pub region: Option<String>,
    /// Machine ids the clone stands by for: it is created stopped and
    /// starts when one of them fails
    #[arg(long, value_name = "IDS", value_delimiter = ',')]
    pub standby_for: Vec<String>,
    /// Run the clone on a schedule instead of continuously
    #[arg(long, value_name = "INTERVAL", value_parser = ["hourly", "daily", "weekly", "monthly"])]
    pub schedule: Option<String>,
    /// Destroy the clone when it exits (its restart policy becomes `no`)
    #[arg(long)]
    pub rm: bool,
    /// Create the clone without starting it
    #[arg(long)]
    pub skip_start: bool,
    /// Return once the Machine is created, without waiting for it to start
    #[arg(long)]
    pub detach: bool,
    /// How long to wait for the clone to start
    #[arg(long, value_name = "DURATION", default_value = "120s", value_parser = parse_duration)]
    pub wait_timeout: GoDuration,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Machine id
    #[arg(value_name = "ID")]
    pub id: String,
    /// Keep printing new lines as the Machine writes them
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Start with at most this many of the latest lines
    #[arg(short = 'n', long = "lines", value_name = "N")]
    pub tail: Option<u32>,
}

pub(crate) async fn run(ctx: &Context, command: MachineCommand) -> anyhow::Result<i32> {
    let app = &ctx.require_app()?;
    match command {
        MachineCommand::Run(args) => run::run(ctx, app, args).await,
        MachineCommand::List(args) => show::list(ctx, app, args).await,
        MachineCommand::Status(args) => show::status(ctx, app, args).await,
        MachineCommand::Start(args) => lifecycle::start(ctx, app, args).await,
        MachineCommand::Stop(args) => lifecycle::stop(ctx, app, args).await,
        MachineCommand::Restart(args) => lifecycle::restart(ctx, app, args).await,
        MachineCommand::Suspend(args) => lifecycle::suspend(ctx, app, args).await,
        MachineCommand::Destroy(args) => lifecycle::destroy(ctx, app, args).await,
        MachineCommand::Kill(args) => lifecycle::kill(ctx, app, args).await,
        MachineCommand::Cordon(args) => lifecycle::cordon(ctx, app, args, true).await,
        MachineCommand::Uncordon(args) => lifecycle::cordon(ctx, app, args, false).await,
        MachineCommand::Exec(args) => exec::exec(ctx, app, args).await,
        MachineCommand::Clone(args) => clone::clone(ctx, app, args).await,
        MachineCommand::Update(args) => update::update(ctx, app, args).await,
        MachineCommand::Logs(args) => logs::logs(ctx, app, args).await,
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::{Cli, Command};

    pub(super) fn machine(args: &[&str]) -> MachineCommand {
        let cli = Cli::try_parse_from([&["hangar", "machine"], args].concat())
            .unwrap_or_else(|e| panic!("{args:?}: {e}"));
        match cli.command {
            Command::Machine(command) => command,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn stop_takes_signal_and_timeout() {
        let MachineCommand::Stop(args) =
            machine(&["stop", "abc", "def", "-s", "term", "--timeout", "30"])
        else {
            panic!()
        };
        assert_eq!(args.machines.ids, ["abc", "def"]);
        assert_eq!(args.signal.as_deref(), Some("SIGTERM"));
        assert_eq!(args.timeout, Some(GoDuration::from_secs(30)));
        assert_eq!(args.machines.wait_timeout, GoDuration::from_secs(60));
    }

    #[test]
    fn bad_signal_is_a_parse_error() {
        let err =
            Cli::try_parse_from(["hangar", "machine", "stop", "abc", "-s", "SIGNOPE"]).unwrap_err();
        assert!(err.to_string().contains("unknown signal"), "{err}");
    }

    #[test]
    fn exec_accepts_one_string_or_many_arguments() {
        let MachineCommand::Exec(args) = machine(&["exec", "abc", "ls -la /"]) else {
            panic!()
        };
        assert_eq!(args.command, ["ls -la /"]);
        let MachineCommand::Exec(args) = machine(&["exec", "abc", "ls", "-la", "/"]) else {
            panic!()
        };
        assert_eq!(args.command, ["ls", "-la", "/"]);
    }

    #[test]
    fn destroy_aliases_and_force() {
        let MachineCommand::Destroy(args) = machine(&["rm", "abc", "--force"]) else {
            panic!()
        };
        assert!(args.force);
        assert!(matches!(
            machine(&["remove", "abc"]),
            MachineCommand::Destroy(_)
        ));
    }

    #[test]
    fn ids_are_required() {
        for command in [
            "start", "stop", "restart", "suspend", "destroy", "status", "exec", "clone", "logs",
        ] {
            assert!(
                Cli::try_parse_from(["hangar", "machine", command]).is_err(),
                "{command} without an id"
            );
        }
    }

    #[test]
    fn logs_flags() {
        let MachineCommand::Logs(args) = machine(&["logs", "abc", "-f", "-n", "50"]) else {
            panic!()
        };
        assert!(args.follow);
        assert_eq!(args.tail, Some(50));
    }
}
