//! `scale vm`, `scale memory` and `scale concurrency`: change the app's
//! Machines in place and persist the change into fly.toml. Everything is
//! checked before the first Machine changes.

use hangar_client::Client;
use hangar_config::machine::guest_for_size;
use hangar_config::TomlEditor;
use hangar_types::{Machine, MachineGuest, ServiceConcurrency, UpdateMachineRequest};

use super::{ConcurrencyArgs, MemoryArgs, VmArgs};
use crate::context::Context;
use crate::error::CliError;
use crate::fleet;

/// The size of a `[[vm]]` that names none.
const DEFAULT_SIZE: &str = "shared-cpu-1x";
/// The smallest memory a Machine gets.
const MIN_MEMORY_MB: i64 = 128;

pub(crate) async fn vm(ctx: &Context, args: VmArgs) -> anyhow::Result<i32> {
    let mut guest = guest_for_size(&args.size).map_err(|err| {
        CliError::InvalidArguments(format!("{err}; see them with `hangar scale vm --help`"))
    })?;
    let memory = args.memory.as_deref().map(parse_memory).transpose()?;
    if let Some(mb) = memory {
        guest.memory_mb = Some(mb);
    }
    let (app, client, machines, editor) = prepare(ctx, args.process_group.as_deref()).await?;
    let editor = editor
        .map(|mut editor| {
            let memory = memory.map(|mb| format!("{mb}mb"));
            editor
                .set_vm(args.process_group.as_deref(), &args.size, memory.as_deref())
                .map(|()| editor)
        })
        .transpose()?;
    update_all(ctx, &client, &app, &machines, |config| {
        config.guest = Some(MachineGuest {
            kernel_args: config.guest.take().unwrap_or_default().kernel_args,
            ..guest.clone()
        });
    })
    .await?;
    save(ctx, editor)?;
    ctx.output.note(format_args!(
        "Scaled VM size to {} ({} MB) on {} machine(s)",
        args.size,
        guest.memory_mb.unwrap_or_default(),
        machines.len()
    ));
    Ok(0)
}

pub(crate) async fn memory(ctx: &Context, args: MemoryArgs) -> anyhow::Result<i32> {
    let mb = parse_memory(&args.memory)?;
    let (app, client, machines, editor) = prepare(ctx, args.process_group.as_deref()).await?;
    let editor = editor
        .map(|mut editor| memory_into_vm(&mut editor, mb).map(|()| editor))
        .transpose()?;
    update_all(ctx, &client, &app, &machines, |config| {
        let mut guest = config.guest.take().unwrap_or_default();
        guest.memory_mb = Some(mb);
        config.guest = Some(guest);
    })
    .await?;
    save(ctx, editor)?;
    ctx.output.note(format_args!(
        "Scaled memory to {mb} MB on {} machine(s)",
        machines.len()
    ));
    Ok(0)
}

pub(crate) async fn concurrency(ctx: &Context, args: ConcurrencyArgs) -> anyhow::Result<i32> {
    if args.soft < 1 || args.hard < args.soft {
        return Err(CliError::InvalidArguments(format!(
            "--soft {} --hard {}: both must be at least 1 and --hard at least --soft",
            args.soft, args.hard
        ))
        .into());
    }
    let (app, client, machines, editor) = prepare(ctx, None).await?;
    let editor = editor
        .map(|mut editor| -> anyhow::Result<TomlEditor> {
            let table = ["http_service", "concurrency"];
            editor.set(&table, "type", "connections")?;
            editor.set(&table, "soft_limit", args.soft)?;
            editor.set(&table, "hard_limit", args.hard)?;
            Ok(editor)
        })
        .transpose()?;
    let with_services: Vec<Machine> = machines
        .into_iter()
        .filter(|m| !m.config.services.is_empty())
        .collect();
    update_all(ctx, &client, &app, &with_services, |config| {
        for service in &mut config.services {
            service.concurrency = Some(ServiceConcurrency {
                kind: Some("connections".into()),
                soft_limit: Some(args.soft),
                hard_limit: Some(args.hard),
            });
        }
    })
    .await?;
    save(ctx, editor)?;
    ctx.output.note(format_args!(
        "Set concurrency soft {} / hard {} on {} machine(s)",
        args.soft,
        args.hard,
        with_services.len()
    ));
    Ok(0)
}

/// Megabytes from `512` or `1gb`.
fn parse_memory(text: &str) -> Result<i64, CliError> {
    let mb = hangar_config::units::parse_ram_size_mb(text).map_err(|_| {
        CliError::InvalidArguments(format!(
            "invalid memory {text:?}: write megabytes (512) or a size with a unit (1gb)"
        ))
    })?;
    if mb < MIN_MEMORY_MB {
        return Err(CliError::InvalidArguments(format!(
            "memory {mb} MB is too small: give at least {MIN_MEMORY_MB} MB"
        )));
    }
    Ok(mb)
}

/// Sets `memory` on the generic `[[vm]]`, adding one when there is none.
fn memory_into_vm(editor: &mut TomlEditor, mb: i64) -> anyhow::Result<()> {
    let size = current_vm_size(&editor.text());
    editor.set_vm(None, &size, Some(&format!("{mb}mb")))?;
    Ok(())
}

/// The size of the generic `[[vm]]` in fly.toml text, else the default.
fn current_vm_size(text: &str) -> String {
    hangar_config::load_str(text, hangar_config::Format::Toml, None)
        .ok()
        .and_then(|loaded| {
            loaded
                .config
                .vm
                .iter()
                .find(|vm| vm.processes.is_empty())
                .and_then(|vm| vm.size.clone())
        })
        .unwrap_or_else(|| DEFAULT_SIZE.to_string())
}

/// The app, a client, the Machines to change (of `group`, else all), and
/// fly.toml opened for editing when it exists.
async fn prepare(
    ctx: &Context,
    group: Option<&str>,
) -> anyhow::Result<(String, Client, Vec<Machine>, Option<TomlEditor>)> {
    let app = ctx.require_app()?;
    let client = ctx.client()?;
    let mut machines = fleet::machines(&client, &app).await?;
    if let Some(group) = group {
        machines.retain(|m| fleet::group_of(m) == group);
        if machines.is_empty() {
            return Err(CliError::InvalidArguments(format!(
                "the app has no Machines in process group {group:?}: see `hangar status`"
            ))
            .into());
        }
    }
    let path = ctx.config_path();
    let editor = if path.is_file() {
        Some(TomlEditor::open(&path)?)
    } else {
        None
    };
    Ok((app, client, machines, editor))
}

async fn update_all(
    ctx: &Context,
    client: &Client,
    app: &str,
    machines: &[Machine],
    change: impl Fn(&mut hangar_types::MachineConfig),
) -> anyhow::Result<()> {
    for machine in machines {
        let mut config = machine.config.clone();
        change(&mut config);
        client
            .update_machine(
                app,
                &machine.id,
                &UpdateMachineRequest {
                    config,
                    ..UpdateMachineRequest::default()
                },
            )
            .await?;
        ctx.output
            .note(format_args!("  Updated machine {}", machine.id));
    }
    Ok(())
}

fn save(ctx: &Context, editor: Option<TomlEditor>) -> anyhow::Result<()> {
    if let Some(editor) = editor {
        let path = ctx.config_path();
        editor.save(&path)?;
        ctx.output.note(format_args!("Updated {}", path.display()));
    }
    Ok(())
}
