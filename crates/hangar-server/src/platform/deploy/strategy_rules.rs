//! What a strategy asks of the app (reference §5.4, §5.5), checked before a
//! deploy is accepted so a refused one leaves no release, Machine or volume
//! behind. Canary and bluegreen start new Machines beside the ones they
//! replace, and a volume belongs to one Machine at a time, so neither can
//! deploy a process group with `[mounts]`; bluegreen moves traffic only
//! once the new Machines pass a health check, so it needs at least one.

use hangar_types::MachineConfig;

use super::plan::{has_checks, Strategy};

/// Where the deploy's strategy was chosen, for the way out a refusal names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StrategySource {
    /// The request (`hangar deploy --strategy`).
    Request,
    /// `[deploy] strategy` in fly.toml.
    FlyToml,
}

/// Refuses `strategy` for the app whose process groups get `groups`
/// (name and Machine config each); the error says why and what to use.
pub fn check_strategy(
    strategy: Strategy,
    source: StrategySource,
    groups: &[(String, MachineConfig)],
) -> Result<(), String> {
    let name = strategy.as_str();
    match strategy {
        Strategy::Canary | Strategy::Bluegreen => {
            let mounting: Vec<String> = groups
                .iter()
                .filter_map(|(group, config)| {
                    let mount = config.mounts.first()?;
                    let volume = mount.name.as_deref().unwrap_or("a volume");
                    Some(format!(
                        "process group '{group}' mounts volume {volume:?} at {}",
                        mount.path
                    ))
                })
                .collect();
            if !mounting.is_empty() {
                let why = if strategy == Strategy::Canary {
                    "a canary Machine would start beside the Machines it precedes, and a volume belongs to one Machine at a time"
                } else {
                    "each green Machine would start beside the Machine it replaces, and a volume belongs to one Machine at a time"
                };
                return Err(format!(
                    "the {name} strategy cannot deploy an app with volumes: {} ({why}); {}",
                    mounting.join(", "),
                    way_out(source)
                ));
            }
        }
        Strategy::Rolling | Strategy::Immediate => {}
    }
    if strategy == Strategy::Bluegreen && !groups.iter().any(|(_, config)| has_checks(config)) {
        return Err(format!(
            "the {name} strategy needs at least 1 health check to know when the new Machines are ready, and no process group has one: \
             add [checks], [[http_service.checks]] or [[services.http_checks]] to fly.toml, or {}",
            way_out(source)
        ));
    }
    Ok(())
}

/// How to deploy with rolling or immediate instead, naming the setting to
/// change for `source`.
fn way_out(source: StrategySource) -> &'static str {
    match source {
        StrategySource::Request => {
            "deploy with strategy rolling or immediate instead (`hangar deploy --strategy rolling`)"
        }
        StrategySource::FlyToml => {
            "set strategy = \"rolling\" (or \"immediate\") under [deploy] in fly.toml instead"
        }
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
            let error = check_strategy(strategy, StrategySource::FlyToml, &groups).unwrap_err();
            assert!(error.contains("under [deploy] in fly.toml"), "{error}");
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
