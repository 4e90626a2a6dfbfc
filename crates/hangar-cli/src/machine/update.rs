//! `hangar machine update ID`: change a Machine's image, size, memory or
//! environment in place (the API replaces the config; the Machine restarts
//! on the new one when it was running).

use clap::Args;
use hangar_config::machine::guest_for_size;
use hangar_types::{GoDuration, MachineGuest, UpdateMachineRequest};

use super::run::{print_machine, wait_until_started};
use crate::context::Context;
use crate::error::CliError;
use crate::parse::{parse_duration, parse_env_var, parse_memory_mb};

#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    hangar machine update 3d8d413b29d089 --image registry.example/web:v2\n  \
    hangar machine update 3d8d413b29d089 --vm-size shared-cpu-2x --memory 1024\n  \
    hangar machine update 3d8d413b29d089 -e MODE=debug")]
pub struct UpdateArgs {
    /// Machine id
    #[arg(value_name = "ID")]
    pub id: String,
    /// New image
    #[arg(short = 'i', long, value_name = "REF")]
    pub image: Option<String>,
    /// New VM size (shared-cpu-1x … performance-16x)
    #[arg(long, value_name = "SIZE")]
    pub vm_size: Option<String>,
    /// New memory in MB
    #[arg(long = "vm-memory", visible_alias = "memory", value_name = "MB", value_parser = parse_memory_mb)]
    pub memory: Option<i64>,
    /// Set an environment variable (repeatable)
    #[arg(short = 'e', long = "env", value_name = "NAME=VALUE", value_parser = parse_env_var)]
    pub env: Vec<(String, String)>,
    /// Return once the API accepted the update, without waiting
    #[arg(long)]
    pub detach: bool,
    /// How long to wait for the Machine to be started again
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    pub wait_timeout: GoDuration,
}

pub(crate) async fn update(ctx: &Context, app: &str, args: UpdateArgs) -> anyhow::Result<i32> {
    let size_guest: Option<MachineGuest> = args
        .vm_size
        .as_deref()
        .map(guest_for_size)
        .transpose()
        .map_err(|err| CliError::InvalidArguments(err.to_string()))?;
    if args.image.is_none() && size_guest.is_none() && args.memory.is_none() && args.env.is_empty()
    {
        return Err(CliError::InvalidArguments(
            "nothing to change: pass --image, --vm-size, --memory or --env".into(),
        )
        .into());
    }
    let client = ctx.client()?;
    let machine = client.get_machine(app, &args.id).await?;
    let was_started = machine.state == hangar_types::MachineState::Started;
    let mut config = machine.config.clone();
    if let Some(image) = args.image {
        config.image = image;
    }
    let mut guest = config.guest.take().unwrap_or_default();
    if let Some(sized) = size_guest {
        guest = MachineGuest {
            kernel_args: guest.kernel_args,
            ..sized
        };
    }
    if let Some(memory) = args.memory {
        guest.memory_mb = Some(memory);
    }
    config.guest = Some(guest);
    config.env.extend(args.env);
    let updated = client
        .update_machine(
            app,
            &machine.id,
            &UpdateMachineRequest {
                config,
                current_version: Some(machine.instance_id.clone()),
                ..UpdateMachineRequest::default()
            },
        )
        .await?;
    let updated = if was_started && !args.detach {
        wait_until_started(ctx, &client, app, &updated, args.wait_timeout).await?
    } else {
        updated
    };
    print_machine(ctx, &updated)?;
    Ok(0)
}
