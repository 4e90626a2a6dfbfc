//! The agent: one per host, the source of truth for the Machines on it.
//!
//! Each Machine is owned by one actor ([`machine::actor`]) that applies
//! commands through the state machine ([`machine::lifecycle`]), drives the
//! [`hangar_driver::Driver`], and writes every transition with its event to
//! the local [`ledger`] before publishing it. After a crash, [`Agent::open`]
//! rebuilds every actor from the ledger and brings each Machine back to the
//! state it should be in.

mod agent;
pub mod error;
pub mod ledger;
pub mod logs;
pub mod machine;
pub mod network;
pub mod secrets;
pub mod shared;
pub mod volumes;

pub use agent::{Agent, AgentConfig, NewMachine};
pub use error::{AgentError, ErrorClass};
pub use hangar_driver::{ConsoleSession, TerminalSize};
pub use logs::{LogLine, Rotation};
pub use machine::record::MachineRecord;
pub use network::Subnets;
pub use secrets::SecretSource;
pub use volumes::{VolumeBacking, VolumeStorage};
