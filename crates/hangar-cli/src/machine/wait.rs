//! Waiting for a machine to settle, with a bound, using the API's long-poll
//! `wait` in short rounds so that a machine that fails or exits instead of
//! reaching the state is noticed early.

use std::time::{Duration, Instant};

use hangar_client::{Client, ClientError, WaitOptions};
use hangar_types::{Machine, MachineEvent, MachineState};

/// Longest single `wait` call; between calls the machine is looked at.
const ROUND: Duration = Duration::from_secs(5);

/// How a wait ended well.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Settled {
    /// The machine is in the target state.
    Reached,
    /// Waiting for `started`: the machine ran and already exited.
    Exited { exit_code: Option<i64> },
}

/// Waits until machine `machine_id` is in `target`, at most `timeout`.
/// Fails early when the machine fails, or stops without having run.
pub(crate) async fn wait_for_state(
    client: &Client,
    app: &str,
    machine_id: &str,
    instance_id: Option<&str>,
    target: MachineState,
    timeout: Duration,
) -> anyhow::Result<Settled> {
    let deadline = Instant::now() + timeout;
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        let options = WaitOptions {
            state: target,
            timeout: remaining.min(ROUND),
            instance_id: instance_id.map(str::to_string),
        };
        match client.wait_for_state(app, machine_id, &options).await {
            Ok(()) => return Ok(Settled::Reached),
            Err(ClientError::WaitTimeout { .. }) => {}
            Err(err) if err.is_not_found() && target == MachineState::Destroyed => {
                return Ok(Settled::Reached)
            }
            Err(err) => return Err(err.into()),
        }

        let machine = match client.get_machine(app, machine_id).await {
            Ok(machine) => machine,
            Err(err) if err.is_not_found() && target == MachineState::Destroyed => {
                return Ok(Settled::Reached)
            }
            Err(err) => return Err(err.into()),
        };
        if let Some(settled) = judge(&machine, target, app)? {
            return Ok(settled);
        }
        if Instant::now() >= deadline {
            anyhow::bail!(
                "machine {machine_id} is still {} after {}s (waiting for {target}); see its events \
                 with `hangar machine status {machine_id} -a {app}`, or wait longer with --wait-timeout",
                machine.state,
                timeout.as_secs()
            );
        }
    }
}

/// Decides from the machine's current state whether waiting is over.
fn judge(machine: &Machine, target: MachineState, app: &str) -> anyhow::Result<Option<Settled>> {
    if machine.state == target {
        return Ok(Some(Settled::Reached));
    }
    let see = format!(
        "see `hangar machine status {id} -a {app}` and `hangar machine logs {id} -a {app}`",
        id = machine.id
    );
    if machine.state == MachineState::Failed {
        anyhow::bail!(
            "machine {} failed instead of becoming {target}; {see}",
            machine.id
        );
    }
    let ended = matches!(
        machine.state,
        MachineState::Stopped | MachineState::Destroyed
    );
    if target == MachineState::Started && ended {
        return match last_exit_code(&machine.events) {
            Some(exit_code) => Ok(Some(Settled::Exited { exit_code })),
            None => anyhow::bail!(
                "machine {} is {} without having started; {see}",
                machine.id,
                machine.state
            ),
        };
    }
    Ok(None)
}

/// The exit code of the newest `exit` event: `Some(None)` when the event has
/// no code, `None` when the machine never exited.
pub(crate) fn last_exit_code(events: &[MachineEvent]) -> Option<Option<i64>> {
    let exit = events.iter().find(|event| event.kind == "exit")?;
    Some(
        exit.request
            .as_ref()
            .and_then(|request| request.pointer("/exit_event/exit_code"))
            .and_then(serde_json::Value::as_i64),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: &str, request: Option<serde_json::Value>) -> MachineEvent {
        MachineEvent {
            id: "01J".into(),
            kind: kind.into(),
            status: "stopped".into(),
            source: "flyd".into(),
            timestamp: 1_764_320_000_000,
            request,
        }
    }

    fn machine(state: MachineState, events: Vec<MachineEvent>) -> Machine {
        serde_json::from_value(serde_json::json!({
            "id": "3d8d413b29d089", "name": "n", "state": state, "region": "dev",
            "instance_id": "01J", "private_ip": "", "config": {"image": "busybox"},
            "created_at": "", "updated_at": "", "events": events,
        }))
        .unwrap()
    }

    #[test]
    fn exit_codes_come_from_the_newest_exit_event() {
        let events = vec![
            event(
                "exit",
                Some(serde_json::json!({"exit_event": {"exit_code": 3}})),
            ),
            event("start", None),
            event(
                "exit",
                Some(serde_json::json!({"exit_event": {"exit_code": 0}})),
            ),
        ];
        assert_eq!(last_exit_code(&events), Some(Some(3)));
        assert_eq!(last_exit_code(&[event("exit", None)]), Some(None));
        assert_eq!(last_exit_code(&[event("start", None)]), None);
    }

    #[test]
    fn a_machine_that_ran_and_exited_counts_as_started() {
        let exited = machine(
            MachineState::Stopped,
            vec![event(
                "exit",
                Some(serde_json::json!({"exit_event": {"exit_code": 0}})),
            )],
        );
        assert_eq!(
            judge(&exited, MachineState::Started, "demo").unwrap(),
            Some(Settled::Exited { exit_code: Some(0) })
        );
    }

    #[test]
    fn failing_or_never_starting_is_an_error_that_points_at_status() {
        let failed = machine(MachineState::Failed, vec![]);
        let message = judge(&failed, MachineState::Started, "demo")
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("hangar machine status 3d8d413b29d089 -a demo"),
            "{message}"
        );

        let stopped = machine(MachineState::Stopped, vec![]);
        assert!(judge(&stopped, MachineState::Started, "demo").is_err());
    }

    #[test]
    fn transient_states_keep_waiting() {
        let starting = machine(MachineState::Starting, vec![]);
        assert_eq!(
            judge(&starting, MachineState::Started, "demo").unwrap(),
            None
        );
        let stopped = machine(MachineState::Stopped, vec![]);
        assert_eq!(
            judge(&stopped, MachineState::Stopped, "demo").unwrap(),
            Some(Settled::Reached)
        );
    }
}
