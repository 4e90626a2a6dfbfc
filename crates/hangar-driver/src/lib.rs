//! The driver layer's contract: how the agent runs a Machine.
//!
//! A [`Driver`] turns a [`MachineSpec`] (an image's unpacked layers plus the
//! resolved process, resources, network and volumes) into a running task and
//! controls it afterwards through a persisted [`TaskHandle`]. Drivers decide
//! at construction how well they can isolate Machines on this host and say so
//! through [`Driver::isolation`]; they never degrade silently.
//!
//! Every driver must pass the suite in the `conformance` module (feature `conformance`).

mod console;
mod driver;
mod error;
mod exec;
mod isolation;
mod spec;
mod task;

#[cfg(feature = "conformance")]
pub mod conformance;

pub use console::{ConsoleRequest, ConsoleResize, ConsoleSession, TerminalSize};
pub use driver::Driver;
pub use error::DriverError;
pub use exec::{ExecOutput, ExecRequest, ListenSocket, ProcessInfo};
pub use isolation::Isolation;
pub use spec::{MachineSpec, NetworkSpec, ProcessSpec, Resources, VolumeMount};
pub use task::{ExitInfo, StartedTask, TaskHandle};
