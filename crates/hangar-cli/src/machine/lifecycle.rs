//! `hangar machine start|stop|restart|suspend|destroy`: one request per
//! machine, then (unless `--detach`) a bounded wait for the resulting state.

use hangar_client::{Client, ClientError, DestroyOptions, RestartOptions};
use hangar_types::{MachineState, SignalRequest, StopRequest};

use super::wait::wait_for_state;
use super::{DestroyArgs, LifecycleArgs, MachineIdsArgs, RestartArgs, StopArgs};
use crate::context::Context;

/// An action's error, self-contained whatever way it is printed.
fn failed(doing: &str, id: &str, err: ClientError) -> anyhow::Error {
    anyhow::anyhow!("{doing} machine {id}: {err}")
}

/// One machine's outcome, for `--json`.
#[derive(Debug, serde::Serialize)]
struct ActionResult<'a> {
    id: &'a str,
    action: &'a str,
    state: String,
}

async fn settle(
    ctx: &Context,
    client: &Client,
    app: &str,
    id: &str,
    instance_id: &str,
    target: MachineState,
    args: &LifecycleArgs,
) -> anyhow::Result<String> {
    if args.detach {
        return Ok(format!("{target} requested"));
    }
    if !ctx.output.is_json() {
        ctx.output
            .note(format_args!("Waiting for {id} to be {target}..."));
    }
    // Waiting for `stopped` needs the version the stop applies to.
    let instance = (target == MachineState::Stopped).then_some(instance_id);
    wait_for_state(
        client,
        app,
        id,
        instance,
        target,
        args.wait_timeout.as_duration(),
    )
    .await?;
    Ok(target.to_string())
}

fn report(ctx: &Context, results: &[ActionResult<'_>]) -> anyhow::Result<i32> {
    if ctx.output.is_json() {
        ctx.output.json(results)?;
    }
    Ok(0)
}

pub(crate) async fn start(ctx: &Context, app: &str, args: LifecycleArgs) -> anyhow::Result<i32> {
    let client = ctx.client()?;
    let mut results = Vec::new();
    for id in &args.ids {
        let machine = client.get_machine(app, id).await?;
        let answer = client
            .start_machine(app, id)
            .await
            .map_err(|err| failed("starting", id, err))?;
        let state = settle(
            ctx,
            &client,
            app,
            id,
            &machine.instance_id,
            MachineState::Started,
            &args,
        )
        .await?;
        if !ctx.output.is_json() {
            ctx.output.line(format_args!(
                "Machine {id} {state} (was {})",
                answer.previous_state
            ))?;
        }
        results.push(ActionResult {
            id,
            action: "start",
            state,
        });
    }
    report(ctx, &results)
}

pub(crate) async fn stop(ctx: &Context, app: &str, args: StopArgs) -> anyhow::Result<i32> {
    let client = ctx.client()?;
    let request = (args.signal.is_some() || args.timeout.is_some()).then(|| StopRequest {
        signal: args.signal.clone(),
        timeout: args.timeout,
    });
    let mut results = Vec::new();
    for id in &args.machines.ids {
        let machine = client.get_machine(app, id).await?;
        client
            .stop_machine(app, id, request.as_ref())
            .await
            .map_err(|err| failed("stopping", id, err))?;
        let state = settle(
            ctx,
            &client,
            app,
            id,
            &machine.instance_id,
            MachineState::Stopped,
            &args.machines,
        )
        .await?;
        if !ctx.output.is_json() {
            ctx.output.line(format_args!("Machine {id} {state}"))?;
        }
        results.push(ActionResult {
            id,
            action: "stop",
            state,
        });
    }
    report(ctx, &results)
}

pub(crate) async fn suspend(ctx: &Context, app: &str, args: LifecycleArgs) -> anyhow::Result<i32> {
    let client = ctx.client()?;
    let mut results = Vec::new();
    for id in &args.ids {
        let machine = client.get_machine(app, id).await?;
        client
            .suspend_machine(app, id)
            .await
            .map_err(|err| failed("suspending", id, err))?;
        let state = settle(
            ctx,
            &client,
            app,
            id,
            &machine.instance_id,
            MachineState::Suspended,
            &args,
        )
        .await?;
        if !ctx.output.is_json() {
            ctx.output.line(format_args!(
                "Machine {id} {state}; `hangar machine start {id} -a {app}` resumes it"
            ))?;
        }
        results.push(ActionResult {
            id,
            action: "suspend",
            state,
        });
    }
    report(ctx, &results)
}

pub(crate) async fn restart(ctx: &Context, app: &str, args: RestartArgs) -> anyhow::Result<i32> {
    let client = ctx.client()?;
    let options = RestartOptions {
        signal: args.signal.clone(),
        timeout: args.timeout,
    };
    let mut results = Vec::new();
    for id in &args.ids {
        client
            .restart_machine(app, id, &options)
            .await
            .map_err(|err| failed("restarting", id, err))?;
        if !ctx.output.is_json() {
            ctx.output.line(format_args!("Machine {id} restarting"))?;
        }
        results.push(ActionResult {
            id,
            action: "restart",
            state: "restart requested".into(),
        });
    }
    report(ctx, &results)
}

pub(crate) async fn destroy(ctx: &Context, app: &str, args: DestroyArgs) -> anyhow::Result<i32> {
    let ids = args.ids.join(", ");
    let question = format!("Destroy machine {ids}? Its root filesystem is lost.");
    if !ctx.confirm(&question, &format!("destroying machine {ids}"))? {
        return Ok(1);
    }
    let client = ctx.client()?;
    let options = DestroyOptions {
        force: args.force,
        kill: args.force,
    };
    let mut results = Vec::new();
    for id in &args.ids {
        client
            .destroy_machine(app, id, options)
            .await
            .map_err(|err| {
                let refused = matches!(err.status(), Some(400 | 409 | 412 | 422));
                if refused && !args.force {
                    anyhow::anyhow!(
                        "destroying machine {id}: {err}; pass --force to destroy a running Machine"
                    )
                } else {
                    failed("destroying", id, err)
                }
            })?;
        if !ctx.output.is_json() {
            ctx.output.line(format_args!("Machine {id} destroyed"))?;
        }
        results.push(ActionResult {
            id,
            action: "destroy",
            state: MachineState::Destroyed.to_string(),
        });
    }
    report(ctx, &results)
}

pub(crate) async fn kill(ctx: &Context, app: &str, args: MachineIdsArgs) -> anyhow::Result<i32> {
    let client = ctx.client()?;
    let request = SignalRequest {
        signal: hangar_types::SignalValue::Name("SIGKILL".into()),
    };
    let mut results = Vec::new();
    for id in &args.ids {
        client
            .signal_machine(app, id, &request)
            .await
            .map_err(|err| failed("killing", id, err))?;
        if !ctx.output.is_json() {
            ctx.output
                .line(format_args!("Sent SIGKILL to machine {id}"))?;
        }
        results.push(ActionResult {
            id,
            action: "kill",
            state: "killed".into(),
        });
    }
    report(ctx, &results)
}

pub(crate) async fn cordon(
    ctx: &Context,
    app: &str,
    args: MachineIdsArgs,
    cordon: bool,
) -> anyhow::Result<i32> {
    let client = ctx.client()?;
    let (action, doing, done) = if cordon {
        (
            "cordon",
            "cordoning",
            "cordoned: the proxy sends it no traffic",
        )
    } else {
        (
            "uncordon",
            "uncordoning",
            "uncordoned: the proxy routes to it again",
        )
    };
    let mut results = Vec::new();
    for id in &args.ids {
        let answer = if cordon {
            client.cordon_machine(app, id).await
        } else {
            client.uncordon_machine(app, id).await
        };
        answer.map_err(|err| failed(doing, id, err))?;
        if !ctx.output.is_json() {
            ctx.output.line(format_args!("Machine {id} {done}"))?;
        }
        results.push(ActionResult {
            id,
            action,
            state: format!("{action}ed"),
        });
    }
    report(ctx, &results)
}
