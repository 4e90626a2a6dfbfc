//! The fly.toml configuration layer of Hangar.
//!
//! - [`load_file`] / [`load_str`] read TOML, JSON or YAML with flyctl's normalization of legacy
//!   shapes, per-field duration and size units and string-to-number coercions, and report wrong
//!   types and unknown keys with file, line and column.
//! - [`validate()`] checks a [`Config`] the way flyctl's `Validate` does, plus the gaps Hangar
//!   closes (see docs/config.md).
//! - [`Config::to_machine_config`] turns a process group into a Machines API config
//!   ([`machine::MachineConfig`]); release, console and test Machines have their own builders.
//! - [`TomlEditor`] changes fly.toml in place, keeping comments.
//! - [`cli`] holds the `hangar config validate|show|env` commands.

#![warn(missing_docs)]

pub mod cli;
mod decode;
mod diagnostics;
mod edit;
mod groups;
mod load;
pub mod machine;
pub mod model;
mod patches;
mod render;
mod setters;
pub mod shell;
mod source;
pub mod strategy_rules;
mod tree;
pub mod units;
mod validate;

pub use diagnostics::{apply_strict, Diagnostic, DiagnosticKind, Position, Severity};
pub use edit::{EditError, TomlEditor};
pub use groups::{Flattened, DEFAULT_GROUP};
pub use load::{load_file, load_str, KeyLocations, LoadError, LoadedConfig, MAX_CONFIG_BYTES};
pub use model::Config;
pub use render::{render, RenderError};
pub use source::{resolve_config_path, Format, DEFAULT_CONFIG_NAME};
pub use validate::{has_errors, validate, validate_groups};
