//! `hangar ssh console`: an interactive shell in one of the app's Machines
//! (a pseudo-terminal over the console WebSocket, [`console`]), or with
//! `-C CMD` one command through the exec API; either way the CLI exits with
//! the remote exit code.

mod console;
mod terminal;

use std::io::{BufRead, IsTerminal, Write};
use std::time::Duration;

use clap::{Args, Subcommand};
use hangar_client::{Client, WaitOptions};
use hangar_types::{ExecRequest, Machine, MachineState};

use crate::context::Context;
use crate::error::CliError;
use crate::fleet;
use crate::machine::exec_argv;
use crate::output::write_stdout;

/// `hangar ssh …`
#[derive(Debug, Subcommand)]
pub enum SshCommand {
    /// Open a shell in a Machine of the app, or run a command there (`-C`); exits with its exit code
    #[command(after_help = "Examples:\n  \
        hangar ssh console\n  \
        hangar ssh console -C 'ls -la /'\n  \
        hangar ssh console --machine 3d8d413b29d089 -C \"sh -c 'echo $FLY_REGION'\"\n  \
        hangar ssh console --select -C env\n\n\
        Without -C the Machine's /bin/sh runs on a pseudo-terminal: the local \
        terminal is put in raw mode (Ctrl-C goes to the remote shell) and follows \
        resizes. With -C the command is split like a shell would split it and run \
        without a shell and without a terminal (add --pty for one); wrap it in \
        `sh -c '…'` for pipes and redirections.")]
    Console(ConsoleArgs),
}

#[derive(Debug, Args)]
pub struct ConsoleArgs {
    /// Command to run
    #[arg(short = 'C', long, value_name = "CMD")]
    pub command: Option<String>,
    /// Machine to run it in [default: the first started Machine]
    #[arg(long, value_name = "ID", conflicts_with = "select")]
    pub machine: Option<String>,
    /// Choose the Machine from a list
    #[arg(short = 's', long)]
    pub select: bool,
    /// Seconds the command may run (-C without a terminal)
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub timeout: u32,
    /// Run on a pseudo-terminal [default: only without -C]
    #[arg(long, overrides_with = "no_pty")]
    pub pty: bool,
    /// Run without a pseudo-terminal (needs -C)
    #[arg(long, overrides_with = "pty")]
    pub no_pty: bool,
}

impl ConsoleArgs {
    /// Whether the command runs on a pseudo-terminal.
    fn wants_pty(&self) -> anyhow::Result<bool> {
        match (&self.command, self.pty, self.no_pty) {
            (None, _, true) => Err(CliError::InvalidArguments(
                "--no-pty needs a command to run: pass it with -C, as in \
                 `hangar ssh console --no-pty -C 'ls -la /'`"
                    .into(),
            )
            .into()),
            (None, _, _) => Ok(true),
            (Some(_), pty, _) => Ok(pty),
        }
    }
}

pub(crate) async fn run(ctx: &Context, command: SshCommand) -> anyhow::Result<i32> {
    let SshCommand::Console(args) = command;
    if args.wants_pty()? {
        let app = ctx.require_app()?;
        let client = ctx.client()?;
        let machines = fleet::machines(&client, &app).await?;
        let machine = choose(ctx, &client, &app, &args, &machines).await?;
        return console::run(&client, &app, &machine.id, args.command.clone()).await;
    }
    let command = args.command.as_ref().expect("a command without a terminal");
    let argv = exec_argv(std::slice::from_ref(command))?;
    let app = ctx.require_app()?;
    let client = ctx.client()?;
    let machines = fleet::machines(&client, &app).await?;
    let machine = choose(ctx, &client, &app, &args, &machines).await?;
    let request = ExecRequest {
        command: argv,
        timeout: Some(i64::from(args.timeout.max(1))),
        ..ExecRequest::default()
    };
    let answer = client
        .exec_machine(&app, &machine.id, &request)
        .await
        .map_err(|err| anyhow::anyhow!("running the command in machine {}: {err}", machine.id))?;
    if ctx.output.is_json() {
        ctx.output.json(&answer)?;
    } else {
        write_stdout(&answer.stdout)?;
        eprint!("{}", answer.stderr);
    }
    Ok(if (0..=255).contains(&answer.exit_code) {
        answer.exit_code
    } else {
        1
    })
}

/// How long to wait for a Machine that is starting (or that this command
/// starts) to be started.
const START_WAIT: Duration = Duration::from_secs(30);

/// The Machine to run in: `--machine`, a choice with `--select`, else the
/// first started one. With none started, one that is on its way up is
/// waited for, else a stopped one is started (as the proxy would).
async fn choose(
    ctx: &Context,
    client: &Client,
    app: &str,
    args: &ConsoleArgs,
    machines: &[Machine],
) -> anyhow::Result<Machine> {
    if let Some(id) = &args.machine {
        return machines
            .iter()
            .find(|m| &m.id == id)
            .cloned()
            .ok_or_else(|| {
                CliError::InvalidArguments(format!(
                    "machine {id} is not one of the app's Machines: see `hangar machine list`"
                ))
                .into()
            });
    }
    let started: Vec<&Machine> = machines
        .iter()
        .filter(|m| m.state == MachineState::Started)
        .collect();
    if !started.is_empty() {
        return if args.select {
            select(&started).cloned()
        } else {
            Ok(started[0].clone())
        };
    }
    let coming_up = |m: &&Machine| {
        matches!(
            m.state,
            MachineState::Created
                | MachineState::Starting
                | MachineState::Restarting
                | MachineState::Replacing
        )
    };
    let startable = |m: &&Machine| {
        matches!(
            m.state,
            MachineState::Stopped | MachineState::Suspended | MachineState::Stopping
        )
    };
    let Some(machine) = machines
        .iter()
        .find(coming_up)
        .or_else(|| machines.iter().find(startable))
    else {
        let states: Vec<String> = machines
            .iter()
            .map(|m| format!("{} {}", m.id, m.state))
            .collect();
        return Err(CliError::InvalidArguments(format!(
            "the app has no Machine to run the command in ({}): deploy with `hangar deploy`",
            if states.is_empty() {
                "it has no Machines".to_string()
            } else {
                states.join(", ")
            }
        ))
        .into());
    };
    if startable(&machine) {
        ctx.output.note(format_args!(
            "Starting machine {} to run the command",
            machine.id
        ));
        if machine.state == MachineState::Stopping {
            client
                .wait_for_state(
                    app,
                    &machine.id,
                    &WaitOptions::new(MachineState::Stopped, START_WAIT),
                )
                .await?;
        }
        client.start_machine(app, &machine.id).await?;
    }
    client
        .wait_for_state(
            app,
            &machine.id,
            &WaitOptions::new(MachineState::Started, START_WAIT),
        )
        .await?;
    Ok(machine.clone())
}

fn select<'a>(started: &[&'a Machine]) -> anyhow::Result<&'a Machine> {
    if !std::io::stdin().is_terminal() {
        return Err(CliError::InvalidArguments(
            "--select needs a terminal to ask on: pass --machine ID instead".into(),
        )
        .into());
    }
    let mut stderr = std::io::stderr().lock();
    for (index, machine) in started.iter().enumerate() {
        writeln!(
            stderr,
            "  {}) {} {} ({})",
            index + 1,
            machine.id,
            machine.name,
            machine.region
        )?;
    }
    write!(stderr, "Machine [1-{}]: ", started.len())?;
    stderr.flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    let chosen = answer
        .trim()
        .parse::<usize>()
        .ok()
        .and_then(|n| n.checked_sub(1))
        .and_then(|i| started.get(i));
    chosen.copied().ok_or_else(|| {
        CliError::InvalidArguments(format!(
            "{:?} is not a number between 1 and {}",
            answer.trim(),
            started.len()
        ))
        .into()
    })
}
