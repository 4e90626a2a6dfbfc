//! Errors of the agent, each with a [`ErrorClass`] the API maps to a status.

use hangar_driver::DriverError;
use hangar_image::ImageError;
use hangar_store::StoreError;

use crate::machine::launch::LaunchError;
use crate::machine::lifecycle::IllegalTransition;
use crate::network::SubnetFull;
use crate::volumes::VolumeError;

/// What kind of failure an error is, for the API's status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// The request is wrong (400/422).
    BadRequest,
    /// No such thing (404).
    NotFound,
    /// The current state forbids it (412).
    Precondition,
    /// Ran out of time (408).
    Timeout,
    /// Capacity exhausted (503 with insufficient_capacity).
    Capacity,
    /// Our fault (500).
    Internal,
}

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("machine {0} not found on this host")]
    NotFound(String),
    #[error(transparent)]
    Illegal(#[from] IllegalTransition),
    #[error("image: {0}")]
    Image(#[from] ImageError),
    #[error(transparent)]
    Launch(#[from] LaunchError),
    #[error("driver: {0}")]
    Driver(#[from] DriverError),
    #[error("volume: {0}")]
    Volume(#[from] VolumeError),
    #[error("agent ledger: {0}")]
    Store(#[from] StoreError),
    #[error(transparent)]
    Network(#[from] SubnetFull),
    #[error("machine {machine_id} did not reach state {wanted} within {timeout_secs}s (it is {current})")]
    WaitTimeout {
        machine_id: String,
        wanted: String,
        current: String,
        timeout_secs: u64,
    },
    #[error("machine {machine_id} was replaced by a newer version; instance {instance_id} no longer exists")]
    InstanceReplaced {
        machine_id: String,
        instance_id: String,
    },
    #[error("machine {machine_id} needs the app's secrets at version {min} or newer (min_secrets_version), but they are at version {current}; set the secrets it expects first (hangar secrets set), or lower min_secrets_version")]
    SecretsTooOld {
        machine_id: String,
        min: u64,
        current: u64,
    },
    #[error("machine {machine_id} is {current} and will not become {wanted} by itself; see its events for why, then start it (or create a new one)")]
    WillNotReach {
        machine_id: String,
        wanted: String,
        current: String,
    },
    #[error("machine {machine_id} has no version {instance_id}; use an instance_id from GET /machines/{machine_id} or /versions")]
    UnknownInstance {
        machine_id: String,
        instance_id: String,
    },
    #[error("the agent is shutting down; retry shortly")]
    ShuttingDown,
}

impl AgentError {
    pub fn class(&self) -> ErrorClass {
        match self {
            AgentError::NotFound(_) => ErrorClass::NotFound,
            AgentError::Illegal(_) => ErrorClass::Precondition,
            // A reference that cannot be resolved (bad, missing, refused or
            // unreachable) is the request's problem; local I/O and corrupt
            // content are ours.
            AgentError::Image(ImageError::Io { .. } | ImageError::DigestMismatch { .. }) => {
                ErrorClass::Internal
            }
            AgentError::Image(_) => ErrorClass::BadRequest,
            AgentError::Launch(_) => ErrorClass::BadRequest,
            AgentError::Driver(DriverError::InvalidSpec(_)) => ErrorClass::BadRequest,
            AgentError::Driver(DriverError::NotRunning { .. }) => ErrorClass::Precondition,
            AgentError::Driver(DriverError::ExecTimedOut { .. }) => ErrorClass::Timeout,
            AgentError::Driver(_) => ErrorClass::Internal,
            AgentError::Volume(VolumeError::Shrink { .. }) => ErrorClass::BadRequest,
            AgentError::Volume(VolumeError::Missing(_)) => ErrorClass::NotFound,
            AgentError::Volume(_) => ErrorClass::Internal,
            AgentError::Store(_) => ErrorClass::Internal,
            AgentError::Network(_) => ErrorClass::Capacity,
            AgentError::WaitTimeout { .. } => ErrorClass::Timeout,
            AgentError::InstanceReplaced { .. } => ErrorClass::Precondition,
            AgentError::UnknownInstance { .. } => ErrorClass::BadRequest,
            AgentError::WillNotReach { .. } => ErrorClass::Precondition,
            AgentError::SecretsTooOld { .. } => ErrorClass::Precondition,
            AgentError::ShuttingDown => ErrorClass::Internal,
        }
    }
}
