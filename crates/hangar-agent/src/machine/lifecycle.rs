//! The Machine state machine: which actions are legal in which state.
//!
//! Every user action is checked here before the actor touches the driver,
//! so an illegal request fails with a typed [`IllegalTransition`] and
//! changes nothing.

use hangar_types::MachineState;

/// A request that changes a Machine's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Start,
    Stop,
    Suspend,
    Restart,
    Signal,
    Exec,
    Update,
    Destroy { force: bool },
}

impl Action {
    pub fn verb(&self) -> &'static str {
        match self {
            Action::Start => "start",
            Action::Stop => "stop",
            Action::Suspend => "suspend",
            Action::Restart => "restart",
            Action::Signal => "signal",
            Action::Exec => "exec in",
            Action::Update => "update",
            Action::Destroy { .. } => "destroy",
        }
    }
}

/// An action that the Machine's current state does not allow.
#[derive(Debug, Clone, thiserror::Error)]
#[error("cannot {} machine {machine_id}: it is {state}; {hint}", action.verb())]
pub struct IllegalTransition {
    pub machine_id: String,
    pub action: Action,
    pub state: MachineState,
    pub hint: &'static str,
}

/// Checks that `action` is legal in `state`.
pub fn check(
    machine_id: &str,
    state: MachineState,
    action: Action,
) -> Result<(), IllegalTransition> {
    use MachineState as S;
    let hint = match (action, state) {
        (_, S::Destroyed | S::Destroying) => Some("a destroyed machine cannot be used; create a new one"),
        (Action::Start, S::Created | S::Stopped | S::Suspended | S::Failed) => None,
        (Action::Start, _) => Some("only a created, stopped, suspended or failed machine can be started; stop it first or use restart"),
        (Action::Stop, S::Started | S::Suspended | S::Restarting | S::Stopped | S::Created | S::Failed | S::Stopping) => None,
        (Action::Stop, _) => Some("wait for the current transition to finish, then stop it"),
        (Action::Suspend, S::Started) => None,
        (Action::Suspend, _) => Some("only a started machine can be suspended"),
        (Action::Restart, S::Started) => None,
        (Action::Restart, _) => Some("only a started machine can be restarted; use start instead"),
        (Action::Signal | Action::Exec, S::Started) => None,
        (Action::Signal | Action::Exec, _) => Some("start the machine first"),
        (Action::Update, _) => None,
        (Action::Destroy { force: true }, _) => None,
        (Action::Destroy { force: false }, S::Created | S::Stopped | S::Suspended | S::Failed) => None,
        (Action::Destroy { force: false }, _) => Some("stop it first, or destroy with force=true (kill=true)"),
    };
    match hint {
        None => Ok(()),
        Some(hint) => Err(IllegalTransition {
            machine_id: machine_id.to_string(),
            action,
            state,
            hint,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use MachineState as S;

    #[test]
    fn legal_and_illegal_actions() {
        assert!(check("m", S::Stopped, Action::Start).is_ok());
        assert!(check("m", S::Suspended, Action::Start).is_ok());
        assert!(check("m", S::Started, Action::Start).is_err());
        assert!(check("m", S::Stopped, Action::Suspend).is_err());
        assert!(check("m", S::Started, Action::Destroy { force: false }).is_err());
        assert!(check("m", S::Started, Action::Destroy { force: true }).is_ok());
        assert!(check("m", S::Destroyed, Action::Start).is_err());
        assert!(check("m", S::Destroyed, Action::Update).is_err());
        let err = check("abc", S::Stopped, Action::Exec).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot exec in machine abc: it is stopped; start the machine first"
        );
    }
}
