//! `hangar releases [--image]` and `hangar releases rollback [VERSION]`.
//!
//! A rollback deploys an earlier release's image and config as a new
//! release, through the same server-side deploy as `hangar deploy`.

use clap::{Args, Subcommand};
use hangar_types::{Release, ReleaseStatus};

use crate::context::Context;
use crate::deploy::start_following;
use crate::error::CliError;
use crate::fleet;
use crate::output::Table;

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ReleasesArgs {
    #[command(subcommand)]
    pub action: Option<ReleasesAction>,
    /// Also show each release's image
    #[arg(long)]
    pub image: bool,
}

/// `hangar releases rollback`
#[derive(Debug, Subcommand)]
pub enum ReleasesAction {
    /// Deploy an earlier release again, as a new release
    #[command(after_help = "Without VERSION, the release before the current one. \
        `hangar releases` lists versions.")]
    Rollback(RollbackArgs),
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// Release to return to (`3` or `v3`) [default: the one before the current]
    #[arg(id = "release", value_name = "VERSION")]
    pub release: Option<String>,
    /// Print the deploy id and return at once
    #[arg(long)]
    pub detach: bool,
}

pub(crate) async fn run(ctx: &Context, args: ReleasesArgs) -> anyhow::Result<i32> {
    let app = ctx.require_app()?;
    let client = ctx.client()?;
    fleet::require_app(&client, &app).await?;
    let mut releases = client.list_releases(&app).await?;
    releases.sort_by_key(|r| std::cmp::Reverse(r.version));
    match args.action {
        Some(ReleasesAction::Rollback(rollback)) => {
            let version = target_version(&releases, rollback.release.as_deref())?;
            let question = format!("Roll {app} back to release v{version}?");
            if !ctx.confirm(&question, &format!("rolling {app} back to v{version}"))? {
                return Ok(1);
            }
            let deploy = client.rollback_release(&app, version).await?;
            start_following(ctx, &client, &app, &deploy, rollback.detach).await
        }
        None => {
            if ctx.output.is_json() {
                ctx.output.json(&releases)?;
            } else if releases.is_empty() {
                ctx.output.line(format_args!(
                    "{app} has no releases yet: run `hangar deploy`"
                ))?;
            } else {
                ctx.output.table(&releases_table(&releases, args.image))?;
            }
            Ok(0)
        }
    }
}

/// The version to roll back to: the one asked for (it must exist), else the
/// latest complete release before the current one.
pub(crate) fn target_version(releases: &[Release], asked: Option<&str>) -> anyhow::Result<u64> {
    if let Some(text) = asked {
        let version: u64 = text.trim_start_matches(['v', 'V']).parse().map_err(|_| {
            CliError::InvalidArguments(format!(
                "invalid release version {text:?}: write a number such as 3 or v3"
            ))
        })?;
        if !releases.iter().any(|r| r.version == version) {
            return Err(CliError::InvalidArguments(format!(
                "release v{version} does not exist: `hangar releases` lists the app's releases"
            ))
            .into());
        }
        return Ok(version);
    }
    let current = releases
        .iter()
        .filter(|r| r.status == ReleaseStatus::Complete)
        .map(|r| r.version)
        .max()
        .ok_or_else(|| {
            CliError::InvalidArguments("the app has no complete release to roll back from".into())
        })?;
    releases
        .iter()
        .filter(|r| r.status == ReleaseStatus::Complete && r.version < current)
        .map(|r| r.version)
        .max()
        .ok_or_else(|| {
            CliError::InvalidArguments(format!(
                "there is no complete release before v{current} to roll back to"
            ))
            .into()
        })
}

fn releases_table(releases: &[Release], with_image: bool) -> Table {
    let mut headers = vec!["version", "status", "description", "user", "date"];
    if with_image {
        headers.push("docker image");
    }
    let mut table = Table::new(headers);
    for release in releases {
        let mut row = vec![
            format!("v{}", release.version),
            release.status.to_string(),
            release.description.clone(),
            release.author.clone().unwrap_or_default(),
            release.created_at.clone(),
        ];
        if with_image {
            row.push(release.image.clone());
        }
        table.push_row(row);
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    fn release(version: u64, status: ReleaseStatus) -> Release {
        Release {
            version,
            status,
            image: format!("img:{version}"),
            config: serde_json::Value::Null,
            secrets_version: 0,
            author: None,
            created_at: String::new(),
            description: String::new(),
            deploy_id: format!("dep_{version}"),
            id: String::new(),
            fly_toml: String::new(),
        }
    }

    #[test]
    fn rollback_target_defaults_to_the_previous_complete_release() {
        let releases = [
            release(4, ReleaseStatus::Failed),
            release(3, ReleaseStatus::Complete),
            release(2, ReleaseStatus::Failed),
            release(1, ReleaseStatus::Complete),
        ];
        assert_eq!(target_version(&releases, None).unwrap(), 1);
        assert_eq!(target_version(&releases, Some("v2")).unwrap(), 2);
        let err = target_version(&releases, Some("9"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("v9 does not exist"), "{err}");
        assert!(target_version(&releases, Some("x")).is_err());
        assert!(target_version(&releases[..2], None).is_err());
    }
}
