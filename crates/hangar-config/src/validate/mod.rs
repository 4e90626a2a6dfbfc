//! Validation: every error and warning flyctl raises (reference §1.6), plus the gaps Hangar
//! closes (docs/config.md). Diagnostics carry model key paths; [`crate::KeyLocations::locate`]
//! adds file and position.

mod groups;
mod sections;
mod services;

use crate::diagnostics::{Diagnostic, DiagnosticKind};
use crate::model::Config;

pub use groups::validate_groups;

/// Validates the whole config: every section, then every process group.
pub fn validate(config: &Config) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    if let Some(error) = &config.parse_error {
        out.push(
            Diagnostic::error(DiagnosticKind::WrongType, "services", error.clone())
                .with_help("fix this first: nothing else in the file is used until it loads"),
        );
        return out;
    }
    sections::validate_sections(config, &mut out);
    services::validate_services(config, &mut out);
    let names = config.process_names();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    out.extend(validate_groups(config, &names));
    out
}

/// Whether any diagnostic is an error.
pub fn has_errors(diagnostics: &[Diagnostic]) -> bool {
    diagnostics.iter().any(Diagnostic::is_error)
}

/// Reports each group in `processes` that `[processes]` does not define.
fn check_groups_exist(config: &Config, key: &str, processes: &[String], out: &mut Vec<Diagnostic>) {
    let known = config.process_names();
    for group in processes {
        if !known.contains(group) {
            out.push(
                Diagnostic::error(
                    DiagnosticKind::Consistency,
                    format!("{key}.processes"),
                    format!("process group '{group}' is not defined in [processes]"),
                )
                .with_help(format!(
                    "use one of {} or add `{group} = \"<command>\"` to [processes]",
                    config.format_process_names()
                )),
            );
        }
    }
}

/// Warns when an entry without `processes` silently applies to the default group only.
fn warn_default_group_only(
    config: &Config,
    key: &str,
    what: &str,
    processes: &[String],
    out: &mut Vec<Diagnostic>,
) {
    if processes.is_empty() && config.processes.len() > 1 {
        let default_group = config.default_process_group();
        out.push(
            Diagnostic::warning(
                DiagnosticKind::Consistency,
                key,
                format!(
                    "{what} has no `processes`, so it applies only to the default process group '{default_group}', not to every group"
                ),
            )
            .with_help(format!(
                "add `processes = [\"{default_group}\"]` to make this explicit, or list the groups it should apply to"
            )),
        );
    }
}
