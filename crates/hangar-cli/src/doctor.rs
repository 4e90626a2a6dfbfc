//! `hangar doctor`: can this CLI reach and use the platform? Each check is
//! one line (`ok`/`FAIL` with what to do); the exit code is 1 when any
//! check fails.

use std::collections::BTreeMap;

use clap::Args;
use hangar_client::ListMachinesOptions;
use serde::Serialize;

use crate::context::Context;

#[derive(Debug, Args)]
pub struct DoctorArgs {}

/// The result of one check.
#[derive(Debug, Serialize)]
struct Check {
    name: &'static str,
    ok: bool,
    detail: String,
}

pub(crate) async fn run(ctx: &Context, _args: DoctorArgs) -> anyhow::Result<i32> {
    let checks = checks(ctx).await;
    let failed = checks.iter().any(|check| !check.ok);
    if ctx.output.is_json() {
        ctx.output.json(&checks)?;
    } else {
        for check in &checks {
            let mark = if check.ok { "ok  " } else { "FAIL" };
            ctx.output
                .line(format_args!("{mark} {:<14} {}", check.name, check.detail))?;
        }
    }
    Ok(i32::from(failed))
}

async fn checks(ctx: &Context) -> Vec<Check> {
    let mut checks = Vec::new();
    let client = match ctx.client() {
        Ok(client) => {
            checks.push(Check {
                name: "credentials",
                ok: true,
                detail: format!("API {}", client.base_url()),
            });
            client
        }
        Err(err) => {
            checks.push(Check {
                name: "credentials",
                ok: false,
                detail: format!("{err:#}"),
            });
            return checks;
        }
    };
    let apps = match client.list_apps("personal").await {
        Ok(apps) => {
            checks.push(Check {
                name: "api",
                ok: true,
                detail: "reachable, token accepted".into(),
            });
            apps
        }
        Err(err) => {
            checks.push(Check {
                name: "api",
                ok: false,
                detail: err.to_string(),
            });
            return checks;
        }
    };
    checks.push(platform_check(&client, &apps.apps).await);
    if let Some(check) = config_check(ctx) {
        checks.push(check);
    }
    checks
}

/// Lists every app's Machines: the control plane and agent answer, and the
/// Machines' states say how the platform is doing.
async fn platform_check(client: &hangar_client::Client, apps: &[hangar_types::ListApp]) -> Check {
    let mut states: BTreeMap<String, usize> = BTreeMap::new();
    for app in apps {
        match client
            .list_machines(&app.name, &ListMachinesOptions::default())
            .await
        {
            Ok(machines) => {
                for machine in machines {
                    *states.entry(machine.state.to_string()).or_default() += 1;
                }
            }
            Err(err) => {
                return Check {
                    name: "platform",
                    ok: false,
                    detail: format!("listing the Machines of {} failed: {err}", app.name),
                }
            }
        }
    }
    let machines = if states.is_empty() {
        "no Machines".to_string()
    } else {
        states
            .iter()
            .map(|(state, count)| format!("{count} {state}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    Check {
        name: "platform",
        ok: true,
        detail: format!("{} apps; Machines: {machines}", apps.len()),
    }
}

/// Validates fly.toml when there is one.
fn config_check(ctx: &Context) -> Option<Check> {
    let path = ctx.config_path();
    if !path.is_file() {
        return None;
    }
    let check = match hangar_config::load_file(&path) {
        Ok(loaded) => {
            let diagnostics = loaded.check();
            let errors: Vec<String> = diagnostics
                .iter()
                .filter(|d| d.severity == hangar_config::Severity::Error)
                .map(ToString::to_string)
                .collect();
            Check {
                name: "fly.toml",
                ok: errors.is_empty(),
                detail: if errors.is_empty() {
                    format!("{} is valid", path.display())
                } else {
                    format!("{}: {}", path.display(), errors.join("; "))
                },
            }
        }
        Err(err) => Check {
            name: "fly.toml",
            ok: false,
            detail: err.to_string(),
        },
    };
    Some(check)
}
