//! Per-process-group rules, run on the flattened view of each group.

use crate::diagnostics::{Diagnostic, DiagnosticKind};
use crate::machine::ConvertError;
use crate::model::{Config, DeployStrategy};
use crate::strategy_rules::{
    strategy_refusal, GroupFacts, MountFacts, RefusalKind, StrategySource,
};

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
        if let (Some(strategy), Some(&(index, mount))) = (strategy, flat.mounts.first()) {
            let facts = GroupFacts {
                group: &flat.group,
                mount: Some(MountFacts {
                    index: Some(index),
                    volume: mount.source.as_deref(),
                    path: mount.destination.as_deref().unwrap_or_default(),
                }),
                // Only the volume rule applies here, per group; whether the
                // app has a health check for bluegreen is the deploy's to ask.
                has_checks: true,
            };
            if let Some(refusal) = strategy_refusal(strategy, StrategySource::FlyToml, &[facts])
                .filter(|r| r.kind == RefusalKind::Volumes)
            {
                out.push(
                    Diagnostic::error(
                        DiagnosticKind::Consistency,
                        "deploy.strategy",
                        refusal.message,
                    )
                    .with_help(refusal.help),
                );
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
