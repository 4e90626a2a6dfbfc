//! Typed async client for Hangar's Machines API.
//!
//! The API is wire-compatible with Fly's Machines API (paths under `/v1`);
//! requests and answers are the types of `hangar-types`. One method per
//! endpoint, grouped by resource: apps, machines (lifecycle, info, leases,
//! logs), volumes, and Hangar's deploys, releases and secrets.
//!
//! ```no_run
//! # async fn demo() -> Result<(), hangar_client::ClientError> {
//! let client = hangar_client::Client::from_env()?;
//! for machine in client.list_machines("my-app", &Default::default()).await? {
//!     println!("{} {}", machine.id, machine.state);
//! }
//! # Ok(()) }
//! ```
//!
//! Where the URL and token come from is described in [`discovery`].

mod apps;
mod client;
mod console;
mod deploys;
pub mod discovery;
mod error;
mod leases;
mod logs;
mod machine_info;
mod machines;
mod releases;
mod secrets;
mod volumes;

pub use client::{Client, DEFAULT_REQUEST_TIMEOUT, LEASE_NONCE_HEADER};
pub use console::{ConsoleIo, ConsoleMessage, ConsoleOptions, ConsoleSocket};
pub use deploys::DeployEventStream;
pub use discovery::Credentials;
pub use error::ClientError;
pub use logs::{LogLine, LogOptions, LogStream};
pub use machines::{DestroyOptions, ListMachinesOptions, RestartOptions, WaitOptions};
