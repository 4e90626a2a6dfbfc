//! The control plane: the Machines API (wire-compatible with Fly's), apps,
//! volumes and leases, in front of the host agents.
//!
//! Layering: [`http`] handlers parse and answer; [`platform`] holds the
//! logic and is the only code that touches the store; agents own Machines.

pub mod http;
pub mod openapi;
pub mod platform;

pub use http::router;
pub use platform::ControlPlane;
