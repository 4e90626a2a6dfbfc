//! Parsers for flag values (`--port`, `--env`, `--restart`, …). Each one
//! rejects bad input with a message that shows the accepted form.

pub mod key_value;
pub mod memory;
pub mod port;
pub mod restart;
pub mod shell_words;
pub mod signal;
pub mod volume;

pub use key_value::{parse_env_var, parse_metadata};
pub use memory::parse_memory_mb;
pub use port::{services_from_ports, PortMapping};
pub use restart::parse_restart_policy;
pub use signal::parse_signal;
pub use volume::VolumeMount;

use hangar_types::duration::{parse_go_duration, DurationParseError};
use hangar_types::GoDuration;

/// A duration flag: Go syntax (`30s`, `1m30s`) or bare seconds.
pub fn parse_duration(input: &str) -> Result<GoDuration, DurationParseError> {
    parse_go_duration(input).map(GoDuration)
}
