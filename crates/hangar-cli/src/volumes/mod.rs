//! `hangar volumes …`: create, list, show, extend, update and destroy an
//! app's volumes, and list or take their snapshots. Flags follow flyctl's
//! `fly volumes`.

mod render;

use clap::{Args, Subcommand};
use hangar_types::{CreateVolumeRequest, UpdateVolumeRequest};

use crate::context::Context;
use crate::error::CliError;

/// `hangar volumes …`
#[derive(Debug, Subcommand)]
pub enum VolumesCommand {
    /// Create a volume
    Create(VolumeCreateArgs),
    /// List the app's volumes
    #[command(visible_alias = "ls")]
    List(VolumeListArgs),
    /// Show one volume
    Show(VolumeIdArgs),
    /// Grow a volume
    Extend(VolumeExtendArgs),
    /// Change a volume's snapshot settings
    Update(VolumeUpdateArgs),
    /// Destroy a volume
    #[command(visible_aliases = ["delete", "remove", "rm"])]
    Destroy(VolumeDestroyArgs),
    /// List or take snapshots of a volume
    #[command(subcommand, visible_alias = "snapshot")]
    Snapshots(SnapshotsCommand),
}

#[derive(Debug, Args)]
pub struct VolumeCreateArgs {
    /// Volume name: Machines mount it by this name
    #[arg(value_name = "NAME")]
    pub name: String,
    /// Region to create it in
    #[arg(short = 'r', long)]
    pub region: Option<String>,
    /// Size in GB
    #[arg(short = 's', long = "size", value_name = "GB", default_value_t = 1,
          value_parser = clap::value_parser!(i64).range(1..=500))]
    pub size_gb: i64,
    /// Do not encrypt the volume
    #[arg(long)]
    pub no_encryption: bool,
    /// Days to keep snapshots (1-60)
    #[arg(long, value_name = "DAYS", value_parser = clap::value_parser!(i64).range(1..=60))]
    pub snapshot_retention: Option<i64>,
    /// Create it from this snapshot
    #[arg(long, value_name = "ID")]
    pub snapshot_id: Option<String>,
}

#[derive(Debug, Args)]
pub struct VolumeListArgs {
    /// Include destroyed volumes
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Args)]
pub struct VolumeIdArgs {
    /// Volume id (vol_…)
    #[arg(value_name = "ID")]
    pub id: String,
}

#[derive(Debug, Args)]
pub struct VolumeExtendArgs {
    /// Volume id (vol_…)
    #[arg(value_name = "ID")]
    pub id: String,
    /// New size in GB (volumes only grow)
    #[arg(short = 's', long = "size", value_name = "GB",
          value_parser = clap::value_parser!(i64).range(1..=500))]
    pub size_gb: i64,
}

#[derive(Debug, Args)]
pub struct VolumeUpdateArgs {
    /// Volume id (vol_…)
    #[arg(value_name = "ID")]
    pub id: String,
    /// Days to keep snapshots (1-60)
    #[arg(long, value_name = "DAYS", value_parser = clap::value_parser!(i64).range(1..=60))]
    pub snapshot_retention: Option<i64>,
    /// Take a snapshot every day
    #[arg(long, value_name = "BOOL")]
    pub scheduled_snapshots: Option<bool>,
}

#[derive(Debug, Args)]
pub struct VolumeDestroyArgs {
    /// Volume id (vol_…)
    #[arg(value_name = "ID")]
    pub id: String,
}

/// `hangar volumes snapshots …`
#[derive(Debug, Subcommand)]
pub enum SnapshotsCommand {
    /// List a volume's snapshots
    #[command(visible_alias = "ls")]
    List(VolumeIdArgs),
    /// Take a snapshot now
    Create(VolumeIdArgs),
}

pub(crate) async fn run(ctx: &Context, command: VolumesCommand) -> anyhow::Result<i32> {
    let app = &ctx.require_app()?;
    let client = ctx.client()?;
    let output = &ctx.output;
    match command {
        VolumesCommand::Create(args) => {
            let request = CreateVolumeRequest {
                name: args.name,
                region: args.region,
                size_gb: Some(args.size_gb),
                encrypted: Some(!args.no_encryption),
                snapshot_retention: args.snapshot_retention,
                snapshot_id: args.snapshot_id,
                ..CreateVolumeRequest::default()
            };
            let volume = client.create_volume(app, &request).await?;
            if output.is_json() {
                output.json(&volume)?;
            } else {
                output.details(&render::volume_details(&volume))?;
            }
        }
        VolumesCommand::List(args) => {
            let mut volumes = client.list_volumes(app).await?;
            if !args.all {
                volumes.retain(|volume| !render::is_destroyed(volume));
            }
            if output.is_json() {
                output.json(&volumes)?;
            } else if volumes.is_empty() {
                output.line(format_args!(
                    "No volumes in app {app}. Create one with `hangar volumes create NAME -a {app}`."
                ))?;
            } else {
                output.table(&render::volume_table(&volumes))?;
            }
        }
        VolumesCommand::Show(args) => {
            let volume = client.get_volume(app, &args.id).await?;
            if output.is_json() {
                output.json(&volume)?;
            } else {
                output.details(&render::volume_details(&volume))?;
            }
        }
        VolumesCommand::Extend(args) => {
            let answer = client.extend_volume(app, &args.id, args.size_gb).await?;
            if output.is_json() {
                output.json(&answer)?;
            } else {
                output.line(format_args!(
                    "Volume {} is now {} GB",
                    answer.volume.id, answer.volume.size_gb
                ))?;
                if answer.needs_restart {
                    output.line(format_args!(
                        "Restart the Machine it is attached to ({}) to use the new size",
                        answer
                            .volume
                            .attached_machine_id
                            .as_deref()
                            .unwrap_or("none")
                    ))?;
                }
            }
        }
        VolumesCommand::Update(args) => {
            if args.snapshot_retention.is_none() && args.scheduled_snapshots.is_none() {
                return Err(CliError::InvalidArguments(
                    "nothing to update: pass --snapshot-retention DAYS or --scheduled-snapshots true|false"
                        .into(),
                )
                .into());
            }
            let request = UpdateVolumeRequest {
                snapshot_retention: args.snapshot_retention,
                auto_backup_enabled: args.scheduled_snapshots,
            };
            let volume = client.update_volume(app, &args.id, &request).await?;
            if output.is_json() {
                output.json(&volume)?;
            } else {
                output.details(&render::volume_details(&volume))?;
            }
        }
        VolumesCommand::Destroy(args) => {
            let question = format!("Destroy volume {} and the data on it?", args.id);
            let action = format!("destroying volume {} (its data is lost)", args.id);
            if !ctx.confirm(&question, &action)? {
                return Ok(1);
            }
            client.destroy_volume(app, &args.id).await?;
            if output.is_json() {
                output.json(&serde_json::json!({ "id": args.id, "destroyed": true }))?;
            } else {
                output.line(format_args!("Destroyed volume {}", args.id))?;
            }
        }
        VolumesCommand::Snapshots(SnapshotsCommand::List(args)) => {
            let snapshots = client.list_volume_snapshots(app, &args.id).await?;
            if output.is_json() {
                output.json(&snapshots)?;
            } else if snapshots.is_empty() {
                output.line(format_args!(
                    "No snapshots of volume {}. Take one with `hangar volumes snapshots create {} -a {app}`.",
                    args.id, args.id
                ))?;
            } else {
                output.table(&render::snapshot_table(&snapshots))?;
            }
        }
        VolumesCommand::Snapshots(SnapshotsCommand::Create(args)) => {
            client.create_volume_snapshot(app, &args.id).await?;
            if output.is_json() {
                output
                    .json(&serde_json::json!({ "volume": args.id, "snapshot_requested": true }))?;
            } else {
                output.line(format_args!(
                    "Snapshot of volume {} requested; `hangar volumes snapshots list {} -a {app}` shows it",
                    args.id, args.id
                ))?;
            }
        }
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::{Cli, Command};

    fn volumes(args: &[&str]) -> Result<VolumesCommand, clap::Error> {
        let cli = Cli::try_parse_from([&["hangar", "volumes"], args].concat())?;
        match cli.command {
            Command::Volumes(command) => Ok(command),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn create_defaults_to_one_gigabyte() {
        let VolumesCommand::Create(args) = volumes(&["create", "data", "-r", "dev"]).unwrap()
        else {
            panic!()
        };
        assert_eq!((args.name.as_str(), args.size_gb), ("data", 1));
        assert_eq!(args.region.as_deref(), Some("dev"));
        assert!(!args.no_encryption);
    }

    #[test]
    fn sizes_and_retention_are_bounded() {
        assert!(volumes(&["create", "data", "--size", "0"]).is_err());
        assert!(volumes(&["create", "data", "--size", "501"]).is_err());
        assert!(volumes(&["create", "data", "--snapshot-retention", "61"]).is_err());
        assert!(volumes(&["extend", "vol_x"]).is_err());
        let VolumesCommand::Extend(args) = volumes(&["extend", "vol_x", "-s", "10"]).unwrap()
        else {
            panic!()
        };
        assert_eq!(args.size_gb, 10);
    }

    #[test]
    fn snapshots_subcommands_and_aliases() {
        assert!(matches!(
            volumes(&["snapshots", "ls", "vol_x"]).unwrap(),
            VolumesCommand::Snapshots(SnapshotsCommand::List(_))
        ));
        assert!(matches!(
            volumes(&["snapshot", "create", "vol_x"]).unwrap(),
            VolumesCommand::Snapshots(SnapshotsCommand::Create(_))
        ));
        assert!(matches!(
            volumes(&["rm", "vol_x", "-y"]).unwrap(),
            VolumesCommand::Destroy(_)
        ));
    }
}
