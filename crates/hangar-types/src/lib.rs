//! Wire types of Hangar's public API.
//!
//! These types are the JSON shapes of the Machines API as Fly's own clients
//! (flyctl, fly-go) send and expect them. They do no IO: the control plane,
//! the agent, the client and the CLI all share them.

pub mod app;
pub mod console;
pub mod deploy;
pub mod duration;
pub mod error;
pub mod ids;
pub mod lease;
pub mod machine;
pub mod release;
pub mod secret;
pub mod signal;
pub mod volume;

pub use app::*;
pub use console::{ConsoleControl, ConsoleSize};
pub use deploy::*;
pub use duration::GoDuration;
pub use error::{ApiError, ErrorStatus};
pub use lease::*;
pub use machine::*;
pub use release::*;
pub use secret::*;
pub use signal::{canonical_signal, signal_name, signal_number, UnknownSignal};
pub use volume::*;
