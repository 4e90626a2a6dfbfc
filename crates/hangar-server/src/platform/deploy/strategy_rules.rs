//! What a strategy asks of the app (reference §5.4, §5.5), checked before a
//! deploy is accepted so a refused one leaves no release, Machine or volume
//! behind. The rule itself is hangar-config's
//! ([`hangar_config::strategy_rules`], which `hangar config validate` applies
//! to `[deploy] strategy` too); this is where the control plane gives it the
//! facts of the Machine configs the deploy would create.

use hangar_config::model::DeployStrategy;
use hangar_config::strategy_rules::{strategy_refusal, GroupFacts};
use hangar_types::MachineConfig;

pub use hangar_config::strategy_rules::StrategySource;

use super::plan::Strategy;

/// Refuses `strategy` for the app whose process groups get `groups`
/// (name and Machine config each); the error says why and what to use.
pub fn check_strategy(
    strategy: Strategy,
    source: StrategySource,
    groups: &[(String, MachineConfig)],
) -> Result<(), String> {
    // The same facts `hangar deploy` gives the rule before it builds
    // (hangar_config::strategy_rules::deploy_refusal).
    let facts: Vec<GroupFacts<'_>> = groups
        .iter()
        .map(|(group, config)| GroupFacts::of_machine(group, config))
        .collect();
    match strategy_refusal(deploy_strategy(strategy), source, &facts) {
        Some(refusal) => Err(refusal.to_string()),
        None => Ok(()),
    }
}

fn deploy_strategy(strategy: Strategy) -> DeployStrategy {
    match strategy {
        Strategy::Rolling => DeployStrategy::Rolling,
        Strategy::Immediate => DeployStrategy::Immediate,
        Strategy::Canary => DeployStrategy::Canary,
        Strategy::Bluegreen => DeployStrategy::Bluegreen,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group_configs(text: &str) -> Vec<(String, MachineConfig)> {
        let config = hangar_config::load_str(text, hangar_config::Format::Toml, None)
            .expect("fly.toml loads")
            .config;
        config
            .process_names()
            .into_iter()
            .map(|group| {
                let machine = config.to_machine_config(&group, None).expect("converts");
                (group, machine)
            })
            .collect()
    }

    const WEB_AND_WORKER: &str = r#"
app = "rules"
[processes]
  web = "httpd"
  worker = "sleep 100000"
[http_service]
  internal_port = 8080
  processes = ["web"]
  [[http_service.checks]]
    path = "/"
"#;

    const WORKER_MOUNTS: &str = r#"
[mounts]
  source = "data"
  destination = "/data"
  processes = ["worker"]
"#;

    #[test]
    fn canary_and_bluegreen_name_the_group_with_mounts_and_the_way_out() {
        let groups = group_configs(&format!("{WEB_AND_WORKER}{WORKER_MOUNTS}"));
        for strategy in [Strategy::Canary, Strategy::Bluegreen] {
            let error = check_strategy(strategy, StrategySource::Request, &groups).unwrap_err();
            let name = strategy.as_str();
            assert!(
                error.starts_with(&format!("the {name} strategy")),
                "{error}"
            );
            assert!(
                error.contains("process group 'worker' mounts volume \"data\" at /data"),
                "{error}"
            );
            assert!(!error.contains("'web'"), "web mounts nothing: {error}");
            assert!(error.contains("--strategy rolling"), "{error}");
            // fly.toml's strategy: flyctl's wording, as `hangar config validate` says it.
            let error = check_strategy(strategy, StrategySource::FlyToml, &groups).unwrap_err();
            assert!(
                error.starts_with(&format!(
                    "{name} deployment strategy is not supported when using mounted volumes \
                     (group 'worker' mounts volume \"data\" at /data)"
                )),
                "{error}"
            );
        }
        for strategy in [Strategy::Rolling, Strategy::Immediate] {
            assert_eq!(
                check_strategy(strategy, StrategySource::Request, &groups),
                Ok(())
            );
        }
    }

    #[test]
    fn bluegreen_needs_a_check_in_some_group() {
        let without = group_configs("app = \"rules\"\n[processes]\n  worker = \"sleep 1\"\n");
        let error =
            check_strategy(Strategy::Bluegreen, StrategySource::Request, &without).unwrap_err();
        assert!(error.contains("at least 1 health check"), "{error}");
        assert!(error.contains("--strategy rolling"), "{error}");
        let error =
            check_strategy(Strategy::Bluegreen, StrategySource::FlyToml, &without).unwrap_err();
        assert!(error.contains("under [deploy] in fly.toml"), "{error}");
        assert_eq!(
            check_strategy(Strategy::Canary, StrategySource::Request, &without),
            Ok(())
        );
        let with = group_configs(WEB_AND_WORKER);
        assert_eq!(
            check_strategy(Strategy::Bluegreen, StrategySource::Request, &with),
            Ok(())
        );
    }
}
