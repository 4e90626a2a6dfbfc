//! Following a server-side deploy: its events as they happen (a spinner on
//! a terminal, plain lines when piped or with `NO_COLOR`), then its end
//! state as the exit code. A dropped stream is re-attached from the last
//! event seen; the deploy itself never depends on this process.

use std::io::IsTerminal;
use std::time::Duration;

use futures_util::StreamExt;
use hangar_client::Client;
use hangar_types::{DeployEvent, DeployState, Deployment, EventLevel};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::context::Context;

/// How many times a broken event stream is re-attached.
const REATTACH_ATTEMPTS: u32 = 20;
/// Pause before re-attaching after the stream broke.
const REATTACH_BACKOFF: Duration = Duration::from_millis(500);

/// How progress is shown.
enum Progress {
    Spinner(ProgressBar),
    Lines,
}

impl Progress {
    fn new(deploy: &Deployment) -> Self {
        let fancy = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        if !fancy {
            return Progress::Lines;
        }
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{spinner} {elapsed:>4} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.enable_steady_tick(Duration::from_millis(120));
        bar.set_message(format!("deploy {} ({})", deploy.id, deploy.strategy));
        Progress::Spinner(bar)
    }

    fn event(&self, event: &DeployEvent) {
        let line = event_line(event);
        match self {
            Progress::Spinner(bar) => {
                bar.println(&line);
                bar.set_message(format!("[{}] {}", event.phase, event.message));
            }
            Progress::Lines => eprintln!("{line}"),
        }
    }

    fn finish(&self) {
        if let Progress::Spinner(bar) = self {
            bar.finish_and_clear();
        }
    }
}

/// One event as text: `TIME [phase] machine: message`.
pub(crate) fn event_line(event: &DeployEvent) -> String {
    let level = match event.level {
        EventLevel::Info => "",
        EventLevel::Warn => "WARN ",
        EventLevel::Error => "ERROR ",
    };
    let machine = event
        .machine_id
        .as_deref()
        .map(|id| format!("{id}: "))
        .unwrap_or_default();
    format!(
        "{} [{}] {level}{machine}{}",
        event.time, event.phase, event.message
    )
}

/// Streams the deploy's events until it ends; 0 when it succeeded, else an
/// error with the deploy's own error.
pub(crate) async fn watch(
    ctx: &Context,
    client: &Client,
    app: &str,
    deploy: &Deployment,
) -> anyhow::Result<i32> {
    let progress = Progress::new(deploy);
    let mut last_seq = 0;
    let mut attempts = 0;
    let final_state = loop {
        match client.deploy_events(app, &deploy.id, last_seq, true).await {
            Ok(mut events) => {
                while let Some(event) = events.next().await {
                    let Ok(event) = event else { break };
                    last_seq = last_seq.max(event.seq);
                    if ctx.output.is_json() {
                        ctx.output.json_line(&event)?;
                    } else {
                        progress.event(&event);
                    }
                }
            }
            Err(err) if attempts >= REATTACH_ATTEMPTS => {
                progress.finish();
                return Err(err.into());
            }
            Err(_) => {}
        }
        match client.get_deploy(app, &deploy.id).await {
            Ok(current) if current.state.is_final() => break current,
            Ok(_) | Err(_) if attempts < REATTACH_ATTEMPTS => {
                attempts += 1;
                tokio::time::sleep(REATTACH_BACKOFF).await;
            }
            Ok(_) => {
                progress.finish();
                anyhow::bail!(
                    "lost the event stream of deploy {}; it goes on in the control plane: \
                     `hangar deploy status {} --watch -a {app}` re-attaches",
                    deploy.id,
                    deploy.id
                );
            }
            Err(err) => {
                progress.finish();
                return Err(err.into());
            }
        }
    };
    progress.finish();
    finish(ctx, &final_state)
}

/// Reports a finished deploy; the exit code says whether it succeeded.
pub(crate) fn finish(ctx: &Context, deploy: &Deployment) -> anyhow::Result<i32> {
    if ctx.output.is_json() {
        ctx.output.json(deploy)?;
    }
    match deploy.state {
        DeployState::Succeeded => {
            if !ctx.output.is_json() {
                ctx.output.note(format_args!(
                    "Deploy {} succeeded: release v{} is live",
                    deploy.id, deploy.release_version
                ));
            }
            Ok(0)
        }
        DeployState::Reverted => Err(anyhow::anyhow!(
            "deploy {} failed and the app was rolled back to the previous release: {}",
            deploy.id,
            deploy.error.as_deref().unwrap_or("no reason given")
        )),
        state => Err(anyhow::anyhow!(
            "deploy {} {state}: {}",
            deploy.id,
            deploy.error.as_deref().unwrap_or("no reason given")
        )),
    }
}
