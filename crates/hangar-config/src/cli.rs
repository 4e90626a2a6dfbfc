//! The `hangar config …` subcommands, as functions the CLI crate wires to its argument parser.

use std::io::Write;
use std::path::Path;

use crate::diagnostics::{apply_strict, Severity};
use crate::load::{load_file, LoadError, LoadedConfig};
use crate::render::render;
use crate::shell;
use crate::source::{resolve_config_path, Format};

/// Output format of `config show`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShowFormat {
    /// TOML.
    Toml,
    /// JSON (`--json`).
    Json,
    /// YAML (`--yaml`).
    Yaml,
}

/// Exit code for a valid config.
pub const EXIT_VALID: i32 = 0;
/// Exit code for an invalid or unreadable config.
pub const EXIT_INVALID: i32 = 1;

/// Loads `path` (a file, or a directory holding fly.toml); on a syntax or read error prints it
/// and returns `Err(exit code)`.
fn load_or_report(path: &Path, out: &mut dyn Write) -> anyhow::Result<Result<LoadedConfig, i32>> {
    let path = resolve_config_path(Some(path));
    match load_file(&path) {
        Ok(loaded) => Ok(Ok(loaded)),
        Err(LoadError::Syntax(diagnostic)) => {
            writeln!(out, "{diagnostic}")?;
            writeln!(out, "App configuration is not valid")?;
            Ok(Err(EXIT_INVALID))
        }
        Err(other) => {
            writeln!(out, "error: {other}")?;
            Ok(Err(EXIT_INVALID))
        }
    }
}

/// `hangar config validate [--strict] [-c PATH]`: prints every error and warning with file, line
/// and column; unknown keys are warnings, errors with `strict`. Returns 0 when valid, 1 otherwise.
pub fn validate_command(path: &Path, strict: bool, out: &mut dyn Write) -> anyhow::Result<i32> {
    let loaded = match load_or_report(path, out)? {
        Ok(loaded) => loaded,
        Err(code) => return Ok(code),
    };
    let mut diagnostics = loaded.check();
    if strict {
        apply_strict(&mut diagnostics);
    }
    for diagnostic in &diagnostics {
        writeln!(out, "{diagnostic}")?;
    }
    let errors = diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    let warnings = diagnostics.len() - errors;
    if errors > 0 {
        writeln!(
            out,
            "App configuration is not valid: {errors} error{}, {warnings} warning{}",
            plural(errors),
            plural(warnings)
        )?;
        Ok(EXIT_INVALID)
    } else {
        writeln!(
            out,
            "Configuration is valid ({warnings} warning{})",
            plural(warnings)
        )?;
        Ok(EXIT_VALID)
    }
}

fn plural(count: usize) -> &'static str {
    if count == 1 {
        ""
    } else {
        "s"
    }
}

/// `hangar config show [--json|--yaml]`: prints the normalized model.
pub fn show_command(path: &Path, format: ShowFormat, out: &mut dyn Write) -> anyhow::Result<i32> {
    let loaded = match load_or_report(path, out)? {
        Ok(loaded) => loaded,
        Err(code) => return Ok(code),
    };
    let format = match format {
        ShowFormat::Toml => Format::Toml,
        ShowFormat::Json => Format::Json,
        ShowFormat::Yaml => Format::Yaml,
    };
    write!(out, "{}", render(&loaded.config, format, false)?)?;
    Ok(EXIT_VALID)
}

/// `hangar config env`: prints `[env]` as `NAME=value` lines (values shell-quoted when needed),
/// plus `PRIMARY_REGION` when set, as Machines will see them (secrets excluded).
pub fn env_command(path: &Path, out: &mut dyn Write) -> anyhow::Result<i32> {
    let loaded = match load_or_report(path, out)? {
        Ok(loaded) => loaded,
        Err(code) => return Ok(code),
    };
    let mut env = loaded.config.env.clone();
    if let Some(region) = loaded
        .config
        .primary_region
        .as_ref()
        .filter(|r| !r.is_empty())
    {
        env.insert("PRIMARY_REGION".into(), region.clone());
    }
    for (name, value) in env {
        writeln!(out, "{name}={}", shell::quote(&value))?;
    }
    Ok(EXIT_VALID)
}
