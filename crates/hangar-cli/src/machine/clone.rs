//! `hangar machine clone ID`: a new Machine with the same config. A machine
//! mounts a volume alone, so each mount gets a fresh, empty volume of the
//! same name and size.

use hangar_client::Client;
use hangar_types::{
    CreateMachineRequest, CreateVolumeRequest, Machine, MachineRestart, RestartPolicy,
};

use super::run::{print_machine, wait_until_started};
use super::CloneArgs;
use crate::context::Context;

/// The create request for a copy of `source`.
pub(crate) fn clone_request(
    source: &Machine,
    name: Option<String>,
    region: Option<String>,
) -> CreateMachineRequest {
    CreateMachineRequest {
        config: source.config.clone(),
        name,
        region: Some(region.unwrap_or_else(|| source.region.clone())),
        ..CreateMachineRequest::default()
    }
}

/// Applies `args`' `--standby-for`, `--schedule`, `--rm` and
/// `--skip-start` to the copy. A standby is created stopped.
pub(crate) fn apply_lifecycle(request: &mut CreateMachineRequest, args: &CloneArgs) {
    if !args.standby_for.is_empty() {
        request.config.standbys = args.standby_for.clone();
    }
    if let Some(schedule) = &args.schedule {
        request.config.schedule = Some(schedule.clone());
    }
    if args.rm {
        request.config.auto_destroy = Some(true);
        request.config.restart = Some(MachineRestart {
            policy: Some(RestartPolicy::No),
            max_retries: None,
        });
    }
    if args.skip_start || !args.standby_for.is_empty() {
        request.skip_launch = Some(true);
    }
}

/// Gives every mount of `request` a new volume shaped like the source's.
async fn fresh_volumes(
    ctx: &Context,
    client: &Client,
    app: &str,
    request: &mut CreateMachineRequest,
) -> anyhow::Result<()> {
    let region = request.region.clone();
    for mount in &mut request.config.mounts {
        let source = client.get_volume(app, &mount.volume).await?;
        let volume = client
            .create_volume(
                app,
                &CreateVolumeRequest {
                    name: source.name.clone(),
                    region: region.clone(),
                    size_gb: Some(source.size_gb),
                    encrypted: Some(source.encrypted),
                    fstype: Some(source.fstype.clone()),
                    ..CreateVolumeRequest::default()
                },
            )
            .await?;
        if !ctx.output.is_json() {
            ctx.output.note(format_args!(
                "Created volume {} ({}, {} GB) for the clone's mount at {}",
                volume.id, volume.name, volume.size_gb, mount.path
            ));
        }
        mount.volume = volume.id;
        mount.name = Some(volume.name);
    }
    Ok(())
}

pub(crate) async fn clone(ctx: &Context, app: &str, args: CloneArgs) -> anyhow::Result<i32> {
    let client = ctx.client()?;
    let source = client.get_machine(app, &args.id).await?;
    let mut request = clone_request(&source, args.name.clone(), args.region.clone());
    apply_lifecycle(&mut request, &args);
    fresh_volumes(ctx, &client, app, &mut request).await?;
    if !ctx.output.is_json() {
        ctx.output.note(format_args!(
            "Cloning machine {} into region {}",
            source.id,
            request.region.as_deref().unwrap_or_default()
        ));
    }
    let machine = client.create_machine(app, &request).await?;
    let machine = if args.detach || request.skip_launch == Some(true) {
        machine
    } else {
        wait_until_started(ctx, &client, app, &machine, args.wait_timeout).await?
    };
    print_machine(ctx, &machine)?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(state: &str) -> Machine {
        serde_json::from_value(serde_json::json!({
            "id": "3d8d413b29d089", "name": "web-1", "state": state, "region": "dev",
            "instance_id": "01J", "private_ip": "172.30.0.2",
            "config": {"image": "busybox", "env": {"A": "1"}, "init": {"cmd": ["httpd", "-f"]}},
            "created_at": "", "updated_at": "", "events": []
        }))
        .unwrap()
    }

    #[test]
    fn a_clone_keeps_the_config_and_region_but_not_the_name() {
        let request = clone_request(&source("started"), None, None);
        assert_eq!(request.config, source("started").config);
        assert_eq!(request.region.as_deref(), Some("dev"));
        assert_eq!(request.name, None);
        assert_eq!(request.skip_launch, None);
    }

    fn clone_args(flags: &[&str]) -> CloneArgs {
        use clap::Parser;
        let cli = crate::Cli::try_parse_from(
            [&["hangar", "machine", "clone", "3d8d413b29d089"], flags].concat(),
        )
        .unwrap();
        match cli.command {
            crate::Command::Machine(super::super::MachineCommand::Clone(args)) => args,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn standby_schedule_and_rm_shape_the_clone() {
        let mut request = clone_request(&source("started"), None, None);
        apply_lifecycle(&mut request, &clone_args(&["--standby-for", "a1,b2"]));
        assert_eq!(
            request.config.standbys,
            vec!["a1".to_string(), "b2".to_string()]
        );
        assert_eq!(
            request.skip_launch,
            Some(true),
            "a standby is created stopped"
        );

        let mut request = clone_request(&source("started"), None, None);
        apply_lifecycle(&mut request, &clone_args(&["--schedule", "daily", "--rm"]));
        assert_eq!(request.config.schedule.as_deref(), Some("daily"));
        assert_eq!(request.config.auto_destroy, Some(true));
        assert_eq!(
            request.config.restart.and_then(|r| r.policy),
            Some(RestartPolicy::No)
        );
        assert_eq!(request.skip_launch, None);
    }

    #[test]
    fn overrides_apply_and_a_clone_of_a_stopped_machine_still_starts() {
        let request = clone_request(&source("stopped"), Some("copy".into()), Some("ams".into()));
        assert_eq!(request.name.as_deref(), Some("copy"));
        assert_eq!(request.region.as_deref(), Some("ams"));
        assert_eq!(request.skip_launch, None);
    }
}
