//! Per-process-group rules, run on the flattened view of each group.

use crate::diagnostics::{Diagnostic, DiagnosticKind};
use crate::machine::ConvertError;
use crate::model::{Config, DeployStrategy};

/// Validates the given groups: at most one mount, no canary/bluegreen with volumes, and the
/// group converts to a Machine config (flyctl's conversion check never fires; Hangar's does).
pub fn validate_groups(config: &Config, groups: &[&str]) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    if let Some(error) = &config.parse_error {
        out.push(Diagnostic::error(
            DiagnosticKind::WrongType,
            "services",
            error.clone(),
        ));
        return out;
    }
    let strategy = config.deploy_strategy().and_then(DeployStrategy::parse);
    for group in groups {
        let flat = config.flatten(group);
        if flat.mounts.len() > 1 {
            let (index, _) = flat.mounts[1];
            out.push(
                Diagnostic::error(
                    DiagnosticKind::Consistency,
                    format!("mounts[{index}]"),
                    format!("group '{}' has more than one [[mounts]] section defined", flat.group),
                )
                .with_help("a Machine mounts at most one volume; give the extra mounts `processes` of other groups or remove them"),
            );
        }
        if !flat.mounts.is_empty() {
            let (index, _) = flat.mounts[0];
            match strategy {
                Some(DeployStrategy::Canary) => out.push(
                    Diagnostic::error(
                        DiagnosticKind::Consistency,
                        "deploy.strategy",
                        format!(
                            "canary deployment strategy is not supported when using mounted volumes (group '{}' mounts mounts[{index}])",
                            flat.group
                        ),
                    )
                    .with_help("use strategy = \"rolling\" or \"immediate\" for apps with volumes"),
                ),
                Some(DeployStrategy::Bluegreen) => out.push(
                    Diagnostic::error(
                        DiagnosticKind::Consistency,
                        "deploy.strategy",
                        format!(
                            "bluegreen deployment strategy is not supported when using mounted volumes (group '{}' mounts mounts[{index}])",
                            flat.group
                        ),
                    )
                    .with_help("use strategy = \"rolling\" or \"immediate\" for apps with volumes; flyctl only fails mid-deploy"),
                ),
                _ => {}
            }
        }
        // Invalid sizes, policies, commands and local files are reported by the section rules.
        let key = match config.to_machine_config(group, None) {
            Err(ConvertError::CheckWithoutPort { check, group }) => {
                let key = format!("checks.{check}.port");
                Some((
                    key,
                    ConvertError::CheckWithoutPort { check, group }.to_string(),
                ))
            }
            Err(err @ ConvertError::MachineConfig(_)) => {
                Some((machine_config_key(config).to_string(), err.to_string()))
            }
            Err(err @ ConvertError::UnknownGroup { .. }) => {
                Some(("processes".to_string(), err.to_string()))
            }
            _ => None,
        };
        if let Some((key, message)) = key {
            out.push(
                Diagnostic::error(DiagnosticKind::Consistency, key, message)
                    .with_help("set the value named in the message, or limit the entry to groups that provide it"),
            );
        }
    }
    out
}

fn machine_config_key(config: &Config) -> &'static str {
    if config
        .experimental
        .as_ref()
        .is_some_and(|e| e.machine_config.is_some())
    {
        "experimental.machine_config"
    } else {
        "machine_config"
    }
}
