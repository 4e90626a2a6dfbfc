//! `hangar deploy`: start a server-side deploy of fly.toml with an image and
//! follow it. The control plane runs the deploy (release, strategy,
//! checks, automatic rollback); this command sends fly.toml's text, then
//! streams the deploy's events. `--detach` prints the deploy id and leaves;
//! `hangar deploy status ID --watch` re-attaches.

mod build;
mod watch;

use clap::{ArgAction, Args, Subcommand, ValueEnum};
use hangar_config::model::DeployStrategy;
use hangar_config::strategy_rules::{deploy_refusal, StrategySource};
use hangar_types::{CreateDeployRequest, Deployment, GoDuration};

use crate::context::Context;
use crate::error::CliError;
use crate::fleet;
use crate::output::Table;
use crate::parse::parse_duration;

pub(crate) use build::build_and_push;
pub use build::BuildArgs;
pub(crate) use watch::watch;

/// Deploy strategies (reference §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Strategy {
    /// Replace Machines a few at a time (`--max-unavailable`)
    Rolling,
    /// Replace every Machine at once
    Immediate,
    /// One new Machine first, then the rest
    Canary,
    /// A full new set beside the old one, switched over when healthy
    Bluegreen,
}

impl Strategy {
    fn as_str(self) -> &'static str {
        match self {
            Strategy::Rolling => "rolling",
            Strategy::Immediate => "immediate",
            Strategy::Canary => "canary",
            Strategy::Bluegreen => "bluegreen",
        }
    }

    fn deploy_strategy(self) -> DeployStrategy {
        match self {
            Strategy::Rolling => DeployStrategy::Rolling,
            Strategy::Immediate => DeployStrategy::Immediate,
            Strategy::Canary => DeployStrategy::Canary,
            Strategy::Bluegreen => DeployStrategy::Bluegreen,
        }
    }
}

#[derive(Debug, Args)]
#[command(
    args_conflicts_with_subcommands = true,
    after_help = "Examples:\n  \
        hangar deploy --image registry.example/web:v2\n  \
        hangar deploy --builder native --build-arg VERSION=2   # builds ./Dockerfile\n  \
        hangar deploy --strategy bluegreen --wait-timeout 2m\n  \
        hangar deploy --detach            # prints the deploy id\n  \
        hangar deploy status dep_01J… --watch   # re-attach\n\n\
        The deploy runs in the control plane: it goes on (and reverts the whole fleet if \
        the release fails, unless --no-rollback) when this command is interrupted. \
        Exit code 0 means the release is live."
)]
pub struct DeployArgs {
    #[command(subcommand)]
    pub action: Option<DeployAction>,
    /// Image to deploy [default: [build] image of fly.toml]
    #[arg(short = 'i', long, value_name = "REF")]
    pub image: Option<String>,
    /// Deploy strategy [default: [deploy] strategy of fly.toml, else rolling]
    #[arg(long, value_enum)]
    pub strategy: Option<Strategy>,
    /// Leave the fleet as it is when the deploy fails instead of reverting it
    #[arg(long)]
    pub no_rollback: bool,
    /// Give new process groups with services two Machines (`--ha=false`: one)
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true", action = ArgAction::Set)]
    pub ha: Option<bool>,
    /// How long each Machine may take to start and pass its checks (5m, 90s)
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub wait_timeout: Option<GoDuration>,
    /// Rolling: Machines of a group down at once (≥1: a count, <1: a fraction)
    #[arg(long, value_name = "N")]
    pub max_unavailable: Option<f64>,
    /// Print the deploy id and return at once
    #[arg(long)]
    pub detach: bool,
    /// Without an image: how to build the Dockerfile
    #[command(flatten)]
    pub build: BuildArgs,
}

/// `hangar deploy status|list`
#[derive(Debug, Subcommand)]
pub enum DeployAction {
    /// Show a deploy (the latest without ID); --watch follows it to the end
    Status(DeployStatusArgs),
    /// List the app's deploys, newest first
    #[command(visible_alias = "ls")]
    List,
}

#[derive(Debug, Args)]
pub struct DeployStatusArgs {
    /// Deploy id [default: the latest deploy]
    #[arg(value_name = "ID")]
    pub id: Option<String>,
    /// Stream its events until it ends; the exit code tells success
    #[arg(short = 'w', long)]
    pub watch: bool,
}

/// Who is deploying, for the release list.
pub(crate) fn author() -> Option<String> {
    std::env::var("USER")
        .ok()
        .or_else(|| std::env::var("LOGNAME").ok())
        .filter(|u| !u.is_empty())
}

pub(crate) async fn run(ctx: &Context, args: DeployArgs) -> anyhow::Result<i32> {
    match args.action {
        Some(DeployAction::Status(status_args)) => status(ctx, status_args).await,
        Some(DeployAction::List) => list(ctx).await,
        None => deploy(ctx, args).await,
    }
}

/// fly.toml's text, checked: missing → how to create one; invalid → every
/// problem, nothing sent.
pub(crate) fn read_config(ctx: &Context) -> anyhow::Result<(String, hangar_config::Config)> {
    read_config_for(ctx, None)
}

/// [`read_config`] for a deploy whose `--strategy` (when given) replaces
/// fly.toml's: problems of fly.toml's own strategy do not count then; the
/// control plane checks the one given.
fn read_config_for(
    ctx: &Context,
    strategy: Option<Strategy>,
) -> anyhow::Result<(String, hangar_config::Config)> {
    let path = ctx.config_path();
    if !path.is_file() {
        return Err(CliError::MissingConfig {
            path: path.display().to_string(),
        }
        .into());
    }
    let text = std::fs::read_to_string(&path)
        .map_err(|err| anyhow::anyhow!("cannot read {}: {err}", path.display()))?;
    let loaded = hangar_config::load_file(&path)?;
    let errors: Vec<String> = loaded
        .check()
        .iter()
        .filter(|d| d.severity == hangar_config::Severity::Error)
        .filter(|d| strategy.is_none() || d.key != "deploy.strategy")
        .map(ToString::to_string)
        .collect();
    if !errors.is_empty() {
        anyhow::bail!(
            "{} has errors; fix them and deploy again (`hangar config validate` lists them):\n  {}",
            path.display(),
            errors.join("\n  ")
        );
    }
    Ok((text, loaded.config))
}

/// The deploy request for `image` with fly.toml's text and the flags.
pub(crate) fn request(
    ctx: &Context,
    args: &DeployArgs,
    image: String,
    fly_toml: String,
) -> CreateDeployRequest {
    CreateDeployRequest {
        image,
        fly_toml,
        config_path: Some(ctx.config_path().display().to_string()),
        strategy: args.strategy.map(|s| s.as_str().to_string()),
        no_rollback: args.no_rollback,
        ha: args.ha,
        wait_timeout: args.wait_timeout,
        max_unavailable: args.max_unavailable,
        restart_only: false,
        author: author(),
    }
}

/// Refuses the deploy's strategy (`--strategy`, else fly.toml's `[deploy]
/// strategy`) when the control plane would: the same rule on the same facts
/// (each group's Machine config), checked before anything is built, pushed
/// or created. The control plane checks again; it is the authority.
fn check_strategy(config: &hangar_config::Config, flag: Option<Strategy>) -> anyhow::Result<()> {
    let (strategy, source) = match (flag, config.deploy_strategy()) {
        (Some(flag), _) => (flag.deploy_strategy(), StrategySource::Request),
        // An unknown name is one of fly.toml's errors, already reported.
        (None, Some(name)) => match DeployStrategy::parse(name) {
            Some(strategy) => (strategy, StrategySource::FlyToml),
            None => return Ok(()),
        },
        (None, None) => (DeployStrategy::Rolling, StrategySource::FlyToml),
    };
    match deploy_refusal(config, strategy, source) {
        // The control plane's words (its 400 is this text).
        Ok(Some(refusal)) => Err(anyhow::anyhow!("{refusal}")),
        // A group that does not convert is one of fly.toml's errors.
        Ok(None) | Err(_) => Ok(()),
    }
}

async fn deploy(ctx: &Context, args: DeployArgs) -> anyhow::Result<i32> {
    let (text, config) = read_config_for(ctx, args.strategy)?;
    check_strategy(&config, args.strategy)?;
    let app = match ctx.app() {
        Some(app) => app.to_string(),
        None => config.app.clone().ok_or(CliError::MissingApp)?,
    };
    let client = ctx.client()?;
    fleet::require_app(&client, &app).await?;
    let image = match args
        .image
        .clone()
        .or_else(|| config.image().map(str::to_string))
    {
        Some(image) => image,
        None => build::build_and_push(ctx, &app, &config, &args.build).await?,
    };
    let deploy = client
        .create_deploy(&app, &request(ctx, &args, image, text))
        .await?;
    start_following(ctx, &client, &app, &deploy, args.detach).await
}

/// After a deploy was created: print its id (`--detach`) or follow it.
pub(crate) async fn start_following(
    ctx: &Context,
    client: &hangar_client::Client,
    app: &str,
    deploy: &Deployment,
    detach: bool,
) -> anyhow::Result<i32> {
    if detach {
        if ctx.output.is_json() {
            ctx.output.json(deploy)?;
        } else {
            ctx.output.line(&deploy.id)?;
            ctx.output.note(format_args!(
                "Deploy {} of release v{} runs in the control plane; follow it with \
                 `hangar deploy status {} --watch -a {app}`",
                deploy.id, deploy.release_version, deploy.id
            ));
        }
        return Ok(0);
    }
    if !ctx.output.is_json() {
        ctx.output.note(format_args!(
            "Deploying release v{} of {app} ({} strategy, deploy {})",
            deploy.release_version, deploy.strategy, deploy.id
        ));
    }
    watch(ctx, client, app, deploy).await
}

async fn status(ctx: &Context, args: DeployStatusArgs) -> anyhow::Result<i32> {
    let app = ctx.require_app()?;
    let client = ctx.client()?;
    fleet::require_app(&client, &app).await?;
    let deploy = match &args.id {
        Some(id) => client.get_deploy(&app, id).await.map_err(|err| {
            if err.is_not_found() {
                anyhow::anyhow!(
                    "deploy {id} not found: list the app's deploys with `hangar deploy list`"
                )
            } else {
                err.into()
            }
        })?,
        None => client
            .list_deploys(&app)
            .await?
            .into_iter()
            .max_by(|a, b| a.created_at.cmp(&b.created_at))
            .ok_or_else(|| anyhow::anyhow!("{app} has no deploys yet: run `hangar deploy`"))?,
    };
    if args.watch && !deploy.state.is_final() {
        return watch(ctx, &client, &app, &deploy).await;
    }
    if args.watch {
        // Replay what happened, then report the end state.
        let mut events = client.deploy_events(&app, &deploy.id, 0, false).await?;
        while let Some(event) = futures_util::StreamExt::next(&mut events).await {
            let event = event?;
            if ctx.output.is_json() {
                ctx.output.json_line(&event)?;
            } else {
                eprintln!("{}", watch::event_line(&event));
            }
        }
        return watch::finish(ctx, &deploy);
    }
    if ctx.output.is_json() {
        ctx.output.json(&deploy)?;
    } else {
        ctx.output
            .table(&deploys_table(std::slice::from_ref(&deploy)))?;
    }
    Ok(0)
}

async fn list(ctx: &Context) -> anyhow::Result<i32> {
    let app = ctx.require_app()?;
    let client = ctx.client()?;
    fleet::require_app(&client, &app).await?;
    let deploys = client.list_deploys(&app).await?;
    if ctx.output.is_json() {
        ctx.output.json(&deploys)?;
    } else {
        ctx.output.table(&deploys_table(&deploys))?;
    }
    Ok(0)
}

fn deploys_table(deploys: &[Deployment]) -> Table {
    let mut table = Table::new(["id", "release", "state", "strategy", "created", "error"]);
    for deploy in deploys {
        table.push_row([
            deploy.id.clone(),
            format!("v{}", deploy.release_version),
            deploy.state.to_string(),
            deploy.strategy.clone(),
            deploy.created_at.clone(),
            deploy.error.clone().unwrap_or_default(),
        ]);
    }
    table
}
