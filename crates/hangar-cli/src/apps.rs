//! `hangar apps create|list|destroy`.

use clap::{Args, Subcommand};
use hangar_types::{ids::is_valid_app_name, CreateAppRequest};

use crate::context::Context;
use crate::error::CliError;
use crate::output::Table;

/// `hangar apps …`
#[derive(Debug, Subcommand)]
pub enum AppsCommand {
    /// Create an app
    Create(AppsCreateArgs),
    /// List apps
    #[command(visible_alias = "ls")]
    List(AppsListArgs),
    /// Destroy an app with all its Machines and volumes
    #[command(visible_aliases = ["delete", "remove", "rm"])]
    Destroy(AppsDestroyArgs),
}

#[derive(Debug, Args)]
pub struct AppsCreateArgs {
    /// Name of the new app [default: the --app value]
    pub name: Option<String>,
    /// Organization that owns the app
    #[arg(short = 'o', long, value_name = "SLUG", default_value = "personal")]
    pub org: String,
    /// Custom private network to put the app on
    #[arg(long, value_name = "NAME")]
    pub network: Option<String>,
}

#[derive(Debug, Args)]
pub struct AppsListArgs {
    /// Organization whose apps to list
    #[arg(short = 'o', long, value_name = "SLUG", default_value = "personal")]
    pub org: String,
}

#[derive(Debug, Args)]
pub struct AppsDestroyArgs {
    /// App to destroy [default: the --app value]
    pub name: Option<String>,
}

pub(crate) async fn run(ctx: &Context, command: AppsCommand) -> anyhow::Result<i32> {
    match command {
        AppsCommand::Create(args) => create(ctx, args).await,
        AppsCommand::List(args) => list(ctx, args).await,
        AppsCommand::Destroy(args) => destroy(ctx, args).await,
    }
}

fn app_name(
    ctx: &Context,
    positional: Option<String>,
    action: &'static str,
) -> Result<String, CliError> {
    positional
        .or_else(|| ctx.app().map(str::to_string))
        .ok_or(CliError::MissingAppName { action })
}

async fn create(ctx: &Context, args: AppsCreateArgs) -> anyhow::Result<i32> {
    let name = app_name(ctx, args.name, "create")?;
    if !is_valid_app_name(&name) {
        return Err(CliError::InvalidAppName { name }.into());
    }
    let client = ctx.client()?;
    let request = CreateAppRequest {
        app_name: Some(name.clone()),
        org_slug: Some(args.org.clone()),
        network: args.network,
        app_role_id: None,
    };
    let app = client.create_app(&request).await?;
    if ctx.output.is_json() {
        ctx.output.json(&app)?;
    } else {
        ctx.output.line(format_args!(
            "New app created: {} (organization {})",
            app.name, app.organization.slug
        ))?;
    }
    Ok(0)
}

async fn list(ctx: &Context, args: AppsListArgs) -> anyhow::Result<i32> {
    let client = ctx.client()?;
    let answer = client.list_apps(&args.org).await?;
    if ctx.output.is_json() {
        ctx.output.json(&answer)?;
        return Ok(0);
    }
    if answer.apps.is_empty() {
        ctx.output.line(format_args!(
            "No apps in organization {}. Create one with `hangar apps create NAME`.",
            args.org
        ))?;
        return Ok(0);
    }
    let mut table = Table::new(["name", "organization", "machines"]);
    for app in &answer.apps {
        table.push_row([
            app.name.clone(),
            args.org.clone(),
            app.machine_count.to_string(),
        ]);
    }
    ctx.output.table(&table)?;
    Ok(0)
}

async fn destroy(ctx: &Context, args: AppsDestroyArgs) -> anyhow::Result<i32> {
    let name = app_name(ctx, args.name, "destroy")?;
    let question =
        format!("Destroy app {name} with all its Machines and volumes? This cannot be undone.");
    if !ctx.confirm(&question, &format!("destroying app {name}"))? {
        return Ok(1);
    }
    let client = ctx.client()?;
    client.destroy_app(&name, true).await?;
    if ctx.output.is_json() {
        ctx.output
            .json(&serde_json::json!({ "app": name, "destroyed": true }))?;
    } else {
        ctx.output.line(format_args!("Destroyed app {name}"))?;
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::{Cli, Command};

    fn apps(args: &[&str]) -> AppsCommand {
        let cli = Cli::try_parse_from([&["hangar", "apps"], args].concat()).unwrap();
        match cli.command {
            Command::Apps(command) => command,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn create_takes_a_name_and_org() {
        let AppsCommand::Create(args) = apps(&["create", "demo", "--org", "acme"]) else {
            panic!()
        };
        assert_eq!(args.name.as_deref(), Some("demo"));
        assert_eq!(args.org, "acme");
        let AppsCommand::Create(args) = apps(&["create", "demo"]) else {
            panic!()
        };
        assert_eq!(args.org, "personal");
    }

    #[test]
    fn destroy_aliases_and_yes() {
        for alias in ["destroy", "delete", "rm"] {
            let AppsCommand::Destroy(args) = apps(&[alias, "demo", "-y"]) else {
                panic!()
            };
            assert_eq!(args.name.as_deref(), Some("demo"));
        }
    }

    #[test]
    fn list_alias() {
        assert!(matches!(apps(&["ls"]), AppsCommand::List(_)));
    }
}
