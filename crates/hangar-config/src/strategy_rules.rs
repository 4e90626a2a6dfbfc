//! What a deploy strategy asks of the app (reference §5.4, §5.5), the one
//! rule both `hangar config validate` (for `[deploy] strategy`) and the
//! control plane (for the strategy a deploy request names) apply. Canary and
//! bluegreen start new Machines beside the ones they replace, and a volume
//! belongs to one Machine at a time, so neither can deploy a process group
//! with `[mounts]`; bluegreen moves traffic only once the new Machines pass
//! a health check, so it needs at least one.

use hangar_types::MachineConfig;

use crate::model::{Config, DeployStrategy};

/// Where the strategy was chosen: it decides the wording, and the way out a
/// refusal names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StrategySource {
    /// The deploy request (`hangar deploy --strategy`).
    Request,
    /// `[deploy] strategy` in fly.toml: flyctl's wording for volumes.
    FlyToml,
}

/// What the rule needs to know of one process group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupFacts<'a> {
    /// The group's name.
    pub group: &'a str,
    /// Its (first) mount, if it has one.
    pub mount: Option<MountFacts<'a>>,
    /// Whether its Machines have a health check (top-level or a service's).
    pub has_checks: bool,
}

impl<'a> GroupFacts<'a> {
    /// The facts of `group` from the Machine config a deploy gives it, as
    /// the control plane knows them (no `mounts[N]` index).
    pub fn of_machine(group: &'a str, config: &'a MachineConfig) -> GroupFacts<'a> {
        GroupFacts {
            group,
            mount: config.mounts.first().map(|mount| MountFacts {
                index: None,
                volume: mount.name.as_deref(),
                path: &mount.path,
            }),
            has_checks: machine_has_checks(config),
        }
    }
}

/// Whether a Machine config has a health check: top-level or a service's.
pub fn machine_has_checks(config: &MachineConfig) -> bool {
    !config.checks.is_empty() || config.services.iter().any(|s| !s.checks.is_empty())
}

/// The refusal the control plane gives a deploy of `config` with
/// `strategy`, chosen at `source`: the rule applied to each process group's
/// Machine config as the deploy would create it. `Ok(None)` when the
/// strategy may deploy them; `Err` when a group does not convert (the
/// validator reports that).
pub fn deploy_refusal(
    config: &Config,
    strategy: DeployStrategy,
    source: StrategySource,
) -> Result<Option<StrategyRefusal>, crate::machine::ConvertError> {
    let mut groups = Vec::new();
    for group in config.process_names() {
        let machine = config.to_machine_config(&group, None)?;
        groups.push((group, machine));
    }
    let facts: Vec<GroupFacts<'_>> = groups
        .iter()
        .map(|(group, machine)| GroupFacts::of_machine(group, machine))
        .collect();
    Ok(strategy_refusal(strategy, source, &facts))
}

/// A group's mount, as far as the caller knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MountFacts<'a> {
    /// Its index in fly.toml's `[[mounts]]` (`mounts[N]`), when known.
    pub index: Option<usize>,
    /// The volume's name.
    pub volume: Option<&'a str>,
    /// Where it is mounted.
    pub path: &'a str,
}

/// Which rule refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalKind {
    /// Canary or bluegreen for an app whose groups mount volumes.
    Volumes,
    /// Bluegreen and no group has a health check.
    NoChecks,
}

/// Why a strategy is refused, and what to do instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StrategyRefusal {
    /// Which rule refused.
    pub kind: RefusalKind,
    /// What is wrong.
    pub message: String,
    /// What to do instead.
    pub help: String,
}

impl std::fmt::Display for StrategyRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}; {}", self.message, self.help)
    }
}

/// Refuses `strategy` (the effective one: the request's, else fly.toml's)
/// for an app whose process groups are `groups`; `None` when it may deploy
/// them. The volume rule comes first. With [`StrategySource::FlyToml`] the
/// volume refusal has flyctl's wording (`canary deployment strategy is not
/// supported when using mounted volumes (group 'app' mounts mounts[0])`).
pub fn strategy_refusal(
    strategy: DeployStrategy,
    source: StrategySource,
    groups: &[GroupFacts<'_>],
) -> Option<StrategyRefusal> {
    let name = strategy_name(strategy);
    if matches!(strategy, DeployStrategy::Canary | DeployStrategy::Bluegreen) {
        let mounting: Vec<(&str, MountFacts<'_>)> = groups
            .iter()
            .filter_map(|g| Some((g.group, g.mount?)))
            .collect();
        if !mounting.is_empty() {
            return Some(volumes_refusal(strategy, source, &mounting));
        }
    }
    if strategy == DeployStrategy::Bluegreen && !groups.iter().any(|g| g.has_checks) {
        return Some(StrategyRefusal {
            kind: RefusalKind::NoChecks,
            message: format!(
                "the {name} strategy needs at least 1 health check to know when the new Machines are ready, \
                 and no process group has one"
            ),
            help: format!(
                "add [checks], [[http_service.checks]] or [[services.http_checks]] to fly.toml, or {}",
                way_out(source)
            ),
        });
    }
    None
}

fn volumes_refusal(
    strategy: DeployStrategy,
    source: StrategySource,
    mounting: &[(&str, MountFacts<'_>)],
) -> StrategyRefusal {
    let name = strategy_name(strategy);
    let (message, help) = match source {
        StrategySource::FlyToml => {
            let groups: Vec<String> = mounting
                .iter()
                .map(|(group, mount)| match mount.index {
                    Some(index) => format!("group '{group}' mounts mounts[{index}]"),
                    None => format!("group '{group}' mounts {}", described(mount)),
                })
                .collect();
            let help = if strategy == DeployStrategy::Bluegreen {
                "use strategy = \"rolling\" or \"immediate\" for apps with volumes; flyctl only fails mid-deploy"
            } else {
                "use strategy = \"rolling\" or \"immediate\" for apps with volumes"
            };
            (
                format!(
                    "{name} deployment strategy is not supported when using mounted volumes ({})",
                    groups.join(", ")
                ),
                help.to_string(),
            )
        }
        StrategySource::Request => {
            let groups: Vec<String> = mounting
                .iter()
                .map(|(group, mount)| {
                    format!("process group '{group}' mounts {}", described(mount))
                })
                .collect();
            let why = if strategy == DeployStrategy::Canary {
                "a canary Machine would start beside the Machines it precedes, and a volume belongs to one Machine at a time"
            } else {
                "each green Machine would start beside the Machine it replaces, and a volume belongs to one Machine at a time"
            };
            (
                format!(
                    "the {name} strategy cannot deploy an app with volumes: {} ({why})",
                    groups.join(", ")
                ),
                way_out(source).to_string(),
            )
        }
    };
    StrategyRefusal {
        kind: RefusalKind::Volumes,
        message,
        help,
    }
}

/// `volume "data" at /data`.
fn described(mount: &MountFacts<'_>) -> String {
    match mount.volume {
        Some(volume) => format!("volume {volume:?} at {}", mount.path),
        None => format!("a volume at {}", mount.path),
    }
}

fn strategy_name(strategy: DeployStrategy) -> &'static str {
    match strategy {
        DeployStrategy::Rolling => "rolling",
        DeployStrategy::Immediate => "immediate",
        DeployStrategy::Canary => "canary",
        DeployStrategy::Bluegreen => "bluegreen",
    }
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

    const DATA: MountFacts<'static> = MountFacts {
        index: Some(0),
        volume: Some("data"),
        path: "/data",
    };

    fn web_and_worker(worker_mount: Option<MountFacts<'static>>) -> [GroupFacts<'static>; 2] {
        [
            GroupFacts {
                group: "web",
                mount: None,
                has_checks: true,
            },
            GroupFacts {
                group: "worker",
                mount: worker_mount,
                has_checks: false,
            },
        ]
    }

    #[test]
    fn canary_and_bluegreen_name_the_group_with_mounts_and_the_way_out() {
        let groups = web_and_worker(Some(DATA));
        for strategy in [DeployStrategy::Canary, DeployStrategy::Bluegreen] {
            let name = strategy_name(strategy);
            let refusal = strategy_refusal(strategy, StrategySource::Request, &groups).unwrap();
            assert_eq!(refusal.kind, RefusalKind::Volumes);
            let text = refusal.to_string();
            assert!(
                text.starts_with(&format!(
                    "the {name} strategy cannot deploy an app with volumes"
                )),
                "{text}"
            );
            assert!(
                text.contains("process group 'worker' mounts volume \"data\" at /data"),
                "{text}"
            );
            assert!(!text.contains("'web'"), "web mounts nothing: {text}");
            assert!(text.contains("--strategy rolling"), "{text}");

            let refusal = strategy_refusal(strategy, StrategySource::FlyToml, &groups).unwrap();
            assert_eq!(
                refusal.message,
                format!(
                    "{name} deployment strategy is not supported when using mounted volumes \
                     (group 'worker' mounts mounts[0])"
                )
            );
            assert!(
                refusal
                    .help
                    .starts_with("use strategy = \"rolling\" or \"immediate\""),
                "{refusal}"
            );
        }
        for strategy in [DeployStrategy::Rolling, DeployStrategy::Immediate] {
            assert_eq!(
                strategy_refusal(strategy, StrategySource::Request, &groups),
                None
            );
        }
    }

    #[test]
    fn bluegreen_needs_a_check_in_some_group() {
        let without = [GroupFacts {
            group: "worker",
            mount: None,
            has_checks: false,
        }];
        let refusal =
            strategy_refusal(DeployStrategy::Bluegreen, StrategySource::Request, &without).unwrap();
        assert_eq!(refusal.kind, RefusalKind::NoChecks);
        let text = refusal.to_string();
        assert!(text.contains("at least 1 health check"), "{text}");
        assert!(text.contains("no process group has one"), "{text}");
        assert!(text.contains("--strategy rolling"), "{text}");
        let text = strategy_refusal(DeployStrategy::Bluegreen, StrategySource::FlyToml, &without)
            .unwrap()
            .to_string();
        assert!(text.contains("under [deploy] in fly.toml"), "{text}");
        assert_eq!(
            strategy_refusal(DeployStrategy::Canary, StrategySource::Request, &without),
            None
        );
        assert_eq!(
            strategy_refusal(
                DeployStrategy::Bluegreen,
                StrategySource::Request,
                &web_and_worker(None)
            ),
            None
        );
    }

    #[test]
    fn deploy_refusal_judges_the_machine_configs_a_deploy_creates() {
        let load = |text: &str| {
            crate::load_str(text, crate::Format::Toml, None)
                .expect("fly.toml loads")
                .config
        };
        let mounts =
            load("app = \"rules\"\n[mounts]\n  source = \"data\"\n  destination = \"/data\"\n");
        let refusal = deploy_refusal(&mounts, DeployStrategy::Canary, StrategySource::Request)
            .expect("converts")
            .expect("refused");
        assert_eq!(refusal.kind, RefusalKind::Volumes);
        assert!(
            refusal
                .message
                .contains("process group 'app' mounts volume \"data\" at /data"),
            "{refusal}"
        );
        // The control plane knows no mounts[N]: fly.toml's wording names the volume.
        let refusal = deploy_refusal(&mounts, DeployStrategy::Canary, StrategySource::FlyToml)
            .expect("converts")
            .expect("refused");
        assert!(
            refusal
                .message
                .contains("group 'app' mounts volume \"data\" at /data"),
            "{refusal}"
        );
        assert_eq!(
            deploy_refusal(&mounts, DeployStrategy::Rolling, StrategySource::Request)
                .expect("converts"),
            None
        );
        let checked = load(
            "app = \"rules\"\n[http_service]\n  internal_port = 8080\n  [[http_service.checks]]\n    path = \"/\"\n",
        );
        assert_eq!(
            deploy_refusal(&checked, DeployStrategy::Bluegreen, StrategySource::Request)
                .expect("converts"),
            None
        );
        let refusal = deploy_refusal(
            &load("app = \"rules\"\n"),
            DeployStrategy::Bluegreen,
            StrategySource::FlyToml,
        )
        .expect("converts")
        .expect("refused");
        assert_eq!(refusal.kind, RefusalKind::NoChecks);
    }
}
