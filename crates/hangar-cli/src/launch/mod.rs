//! `hangar launch`: set up a new app from the current directory. Detects
//! the project (a Dockerfile, else Rust, Go, Node, Python or a static
//! site, for which it writes a Dockerfile), writes fly.toml with flyctl's
//! new-app defaults, creates the app and deploys it unless `--no-deploy`.
//! Every check runs before anything is written or created.

mod detect;
mod dockerfile;
mod flytoml;

use std::path::{Path, PathBuf};

use clap::Args;
use hangar_types::ids::is_valid_app_name;
use hangar_types::CreateAppRequest;

use crate::context::Context;
use crate::deploy::{self, DeployArgs};
use crate::error::CliError;

use detect::detect;

#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    hangar launch --image registry.example/web:v1 --now\n  \
    hangar launch --name web --region dev --no-deploy\n\n\
    Without --image the project is detected and a Dockerfile generated when there is none; \
    the deploy then builds it and pushes it to the platform's registry.")]
pub struct LaunchArgs {
    /// App name [default: the directory's name]
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Primary region
    #[arg(short = 'r', long, value_name = "REGION", default_value = "dev")]
    pub region: String,
    /// Organization of the new app
    #[arg(short = 'o', long, value_name = "ORG", default_value = "personal")]
    pub org: String,
    /// Deploy this image instead of building one (written into [build])
    #[arg(short = 'i', long, value_name = "REF")]
    pub image: Option<String>,
    /// Port the app listens on [default: detected, else 8080]
    #[arg(long, value_name = "PORT")]
    pub internal_port: Option<i64>,
    /// Deploy right away without asking
    #[arg(long)]
    pub now: bool,
    /// Create the app and write fly.toml, but do not deploy
    #[arg(long)]
    pub no_deploy: bool,
}

/// What launch will do, decided before any change.
struct Plan {
    app: String,
    config_path: PathBuf,
    dockerfile: Option<(PathBuf, String)>,
    fly_toml: String,
}

pub(crate) async fn run(ctx: &Context, args: LaunchArgs) -> anyhow::Result<i32> {
    let plan = plan(ctx, &args)?;
    let client = ctx.client()?;
    match client.get_app(&plan.app).await {
        Ok(_) => {
            return Err(CliError::InvalidArguments(format!(
                "app {} already exists: pick another name with --name, or deploy to it with \
                 `hangar deploy -a {}`",
                plan.app, plan.app
            ))
            .into())
        }
        Err(err) if err.is_not_found() => {}
        Err(err) => return Err(err.into()),
    }
    client
        .create_app(&CreateAppRequest {
            app_name: Some(plan.app.clone()),
            org_slug: Some(args.org.clone()),
            ..CreateAppRequest::default()
        })
        .await?;
    ctx.output.note(format_args!(
        "Created app {} in organization {}",
        plan.app, args.org
    ));
    if let Some((path, text)) = &plan.dockerfile {
        std::fs::write(path, text)
            .map_err(|err| anyhow::anyhow!("cannot write {}: {err}", path.display()))?;
        ctx.output.note(format_args!("Wrote {}", path.display()));
    }
    std::fs::write(&plan.config_path, &plan.fly_toml)
        .map_err(|err| anyhow::anyhow!("cannot write {}: {err}", plan.config_path.display()))?;
    ctx.output
        .note(format_args!("Wrote {}", plan.config_path.display()));
    if args.no_deploy {
        ctx.output
            .note("Not deploying (--no-deploy): run `hangar deploy` when ready");
        return Ok(0);
    }
    let image = match args.image.clone() {
        Some(image) => image,
        None => {
            let (_, config) = deploy::read_config(ctx)?;
            deploy::build_and_push(ctx, &plan.app, &config, &Default::default()).await?
        }
    };
    let deploy_args = DeployArgs {
        action: None,
        image: Some(image.clone()),
        strategy: None,
        no_rollback: false,
        ha: None,
        wait_timeout: None,
        max_unavailable: None,
        detach: false,
        build: Default::default(),
    };
    let request = deploy::request(ctx, &deploy_args, image, plan.fly_toml.clone());
    let created = client.create_deploy(&plan.app, &request).await?;
    deploy::start_following(ctx, &client, &plan.app, &created, false).await
}

/// Checks everything and renders the files.
fn plan(ctx: &Context, args: &LaunchArgs) -> anyhow::Result<Plan> {
    let config_path = ctx.config_path();
    if config_path.exists() && !ctx.yes {
        return Err(CliError::InvalidArguments(format!(
            "{} already exists: pass --yes to overwrite it, or deploy the app it \
             describes with `hangar deploy`",
            config_path.display()
        ))
        .into());
    }
    let dir = project_dir(&config_path);
    let detected = detect(&dir);
    if args.image.is_none() && detected.is_none() {
        return Err(CliError::InvalidArguments(format!(
            "cannot tell what kind of project {} holds (no Dockerfile, Cargo.toml, go.mod, \
             package.json, requirements.txt or index.html): pass --image REF to deploy an \
             existing image",
            dir.display()
        ))
        .into());
    }
    if args.image.is_none() && !args.no_deploy {
        return Err(CliError::InvalidArguments(
            "deploying needs an image: pass --image REF (building from a Dockerfile is not \
             available in this version of hangar), or --no-deploy to only create the app and \
             write fly.toml"
                .into(),
        )
        .into());
    }
    let app = match &args.name {
        Some(name) => name.clone(),
        None => name_from_dir(&dir),
    };
    if !is_valid_app_name(&app) {
        return Err(CliError::InvalidAppName { name: app }.into());
    }
    let port = args
        .internal_port
        .or(detected.as_ref().map(|d| d.port))
        .unwrap_or(8080);
    if !(1..=65535).contains(&port) {
        return Err(CliError::InvalidArguments(format!(
            "--internal-port {port} is not a port (1-65535)"
        ))
        .into());
    }
    let dockerfile = match (&args.image, &detected) {
        (None, Some(found)) => dockerfile::generate(found.kind, port).map(|text| {
            ctx.output.note(format_args!(
                "Detected a {} project: generating a Dockerfile",
                found.kind.name()
            ));
            (dir.join("Dockerfile"), text)
        }),
        _ => None,
    };
    let fly_toml = flytoml::new_app(&flytoml::NewApp {
        app: &app,
        region: &args.region,
        image: args.image.as_deref(),
        internal_port: port,
    })?;
    Ok(Plan {
        app,
        config_path,
        dockerfile,
        fly_toml,
    })
}

/// The directory fly.toml goes into.
fn project_dir(config_path: &Path) -> PathBuf {
    match config_path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// An app name from the directory's name: lowercase letters, digits and dashes.
fn name_from_dir(dir: &Path) -> String {
    let absolute = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let raw = absolute
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let mut name: String = raw
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    name = name.trim_matches('-').to_string();
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        name = format!("app-{name}");
    }
    name.truncate(63);
    name.trim_end_matches('-').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_directories_are_valid_app_names() {
        assert_eq!(name_from_dir(Path::new("/tmp/My_Site")), "my-site");
        assert_eq!(name_from_dir(Path::new("/tmp/2fast")), "app-2fast");
        assert!(is_valid_app_name(&name_from_dir(Path::new("/tmp/x--y-"))));
    }
}
