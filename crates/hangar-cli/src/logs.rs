//! `hangar logs`: the output of every Machine of the app in one stream,
//! each line prefixed with its Machine and region as flyctl does. Follows
//! by default (and picks up Machines created meanwhile); `--no-tail` prints
//! the recent lines and exits.

use std::collections::BTreeSet;
use std::time::Duration;

use clap::Args;
use futures_util::StreamExt;
use hangar_client::{Client, LogLine, LogOptions};
use hangar_types::Machine;
use serde::Serialize;
use tokio::sync::mpsc;

use crate::context::Context;
use crate::error::CliError;
use crate::fleet;

/// Lines of each Machine's recent history printed first.
const RECENT_LINES: u32 = 100;
/// How often a follow looks for new Machines.
const NEW_MACHINE_POLL: Duration = Duration::from_secs(2);

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Print the recent lines and exit instead of following
    #[arg(long)]
    pub no_tail: bool,
    /// Only this Machine
    #[arg(long, value_name = "ID")]
    pub machine: Option<String>,
    /// Only Machines in this region
    #[arg(short = 'r', long, value_name = "REGION")]
    pub region: Option<String>,
}

/// One line with where it came from.
#[derive(Debug, Clone, Serialize)]
struct AppLogLine {
    timestamp: String,
    machine_id: String,
    region: String,
    stream: String,
    message: String,
    instance_id: String,
}

impl AppLogLine {
    fn new(machine: &Machine, line: LogLine) -> Self {
        AppLogLine {
            timestamp: line.timestamp,
            machine_id: machine.id.clone(),
            region: machine.region.clone(),
            stream: line.stream,
            message: line.message.trim_end_matches(['\n', '\r']).to_string(),
            instance_id: line.instance_id,
        }
    }

    /// `TIME app[ID] REGION [info] message`.
    fn text(&self) -> String {
        let level = if self.stream == "stderr" {
            "err"
        } else {
            "info"
        };
        format!(
            "{} app[{}] {} [{level}] {}",
            self.timestamp, self.machine_id, self.region, self.message
        )
    }
}

pub(crate) async fn run(ctx: &Context, args: LogsArgs) -> anyhow::Result<i32> {
    let app = ctx.require_app()?;
    let client = ctx.client()?;
    let machines = selected(&args, fleet::machines(&client, &app).await?)?;
    if args.no_tail {
        let mut lines = recent_lines(&client, &app, &machines).await?;
        lines.sort_by(|a, b| a.timestamp.cmp(&b.timestamp));
        for line in &lines {
            print(ctx, line)?;
        }
        return Ok(0);
    }
    follow(ctx, client, app, args, machines).await
}

/// The Machines the flags ask for; `--machine` must name one of the app's.
fn selected(args: &LogsArgs, machines: Vec<Machine>) -> anyhow::Result<Vec<Machine>> {
    if let Some(id) = &args.machine {
        if !machines.iter().any(|m| &m.id == id) {
            return Err(CliError::InvalidArguments(format!(
                "machine {id} is not one of the app's Machines: see `hangar machine list`"
            ))
            .into());
        }
    }
    Ok(machines.into_iter().filter(|m| wanted(args, m)).collect())
}

fn wanted(args: &LogsArgs, machine: &Machine) -> bool {
    args.machine.as_ref().is_none_or(|id| &machine.id == id)
        && args.region.as_ref().is_none_or(|r| &machine.region == r)
}

async fn recent_lines(
    client: &Client,
    app: &str,
    machines: &[Machine],
) -> anyhow::Result<Vec<AppLogLine>> {
    let options = LogOptions {
        follow: false,
        tail: Some(RECENT_LINES),
    };
    let mut all = Vec::new();
    for machine in machines {
        let mut stream = client.machine_logs(app, &machine.id, &options).await?;
        while let Some(line) = stream.next().await {
            all.push(AppLogLine::new(machine, line?));
        }
    }
    Ok(all)
}

/// Streams every Machine's log as lines arrive, adding new Machines as they
/// appear, until interrupted.
async fn follow(
    ctx: &Context,
    client: Client,
    app: String,
    args: LogsArgs,
    machines: Vec<Machine>,
) -> anyhow::Result<i32> {
    let (sender, mut receiver) = mpsc::channel::<AppLogLine>(1024);
    let mut watched = BTreeSet::new();
    for machine in machines {
        watched.insert(machine.id.clone());
        spawn_follower(&client, &app, machine, sender.clone());
    }
    let watcher = {
        let client = client.clone();
        let app = app.clone();
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(NEW_MACHINE_POLL);
            loop {
                ticker.tick().await;
                let Ok(current) = fleet::machines(&client, &app).await else {
                    continue;
                };
                for machine in current {
                    if wanted(&args, &machine) && watched.insert(machine.id.clone()) {
                        spawn_follower(&client, &app, machine, sender.clone());
                    }
                }
            }
        })
    };
    while let Some(line) = receiver.recv().await {
        print(ctx, &line)?;
    }
    watcher.abort();
    Ok(0)
}

fn spawn_follower(client: &Client, app: &str, machine: Machine, sender: mpsc::Sender<AppLogLine>) {
    let client = client.clone();
    let app = app.to_string();
    tokio::spawn(async move {
        let options = LogOptions {
            follow: true,
            tail: Some(RECENT_LINES),
        };
        let Ok(mut stream) = client.machine_logs(&app, &machine.id, &options).await else {
            return;
        };
        while let Some(Ok(line)) = stream.next().await {
            if sender.send(AppLogLine::new(&machine, line)).await.is_err() {
                return;
            }
        }
    });
}

fn print(ctx: &Context, line: &AppLogLine) -> anyhow::Result<()> {
    if ctx.output.is_json() {
        ctx.output.json_line(line)
    } else {
        ctx.output.line(line.text())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_carry_machine_and_region_like_flyctl() {
        let line = AppLogLine {
            timestamp: "2026-11-28T10:00:00Z".into(),
            machine_id: "3d8d413b29d089".into(),
            region: "dev".into(),
            stream: "stdout".into(),
            message: "listening".into(),
            instance_id: "01J".into(),
        };
        assert_eq!(
            line.text(),
            "2026-11-28T10:00:00Z app[3d8d413b29d089] dev [info] listening"
        );
    }
}
