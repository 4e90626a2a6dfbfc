//! Value units used by fly.toml: Go-style durations and human-readable sizes.

mod duration;
mod size;

pub use duration::{DurationParseError, GoDuration};
pub use size::{parse_decimal_size_gb, parse_ram_size_mb, SizeParseError};
