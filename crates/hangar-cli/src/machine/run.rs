//! `hangar machine run IMAGE [COMMAND...]`: create a Machine and wait for it
//! to start. Flag names follow flyctl's `fly machine run`.

use std::collections::BTreeMap;

use clap::Args;
use hangar_client::Client;
use hangar_types::{
    CreateMachineRequest, GoDuration, Machine, MachineConfig, MachineGuest, MachineInit,
    MachineMount, MachineRestart, MachineState, RestartPolicy,
};

use super::render;
use super::wait::{wait_for_state, Settled};
use crate::context::Context;
use crate::error::CliError;
use crate::parse::{
    parse_duration, parse_env_var, parse_memory_mb, parse_metadata, parse_restart_policy,
    services_from_ports, shell_words, PortMapping, VolumeMount,
};

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Image to run: a registry reference (`busybox:latest`), or
    /// `oci:PATH`, `oci-archive:PATH`, `docker-archive:PATH`
    #[arg(value_name = "IMAGE")]
    pub image: String,

    /// Command and arguments to run instead of the image's CMD
    #[arg(
        value_name = "COMMAND",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub command: Vec<String>,

    /// Machine name [default: generated]
    #[arg(short = 'n', long)]
    pub name: Option<String>,

    /// Region to run in
    #[arg(short = 'r', long)]
    pub region: Option<String>,

    /// Environment variable, NAME=VALUE (repeatable)
    #[arg(short = 'e', long = "env", value_name = "NAME=VALUE", value_parser = parse_env_var)]
    pub env: Vec<(String, String)>,

    /// Published port: PORT[:MACHINE_PORT][/PROTOCOL[:HANDLER...]], e.g.
    /// 8080/tcp:http or 443:8080/tcp:http:tls (repeatable)
    #[arg(short = 'p', long = "port", value_name = "PORT")]
    pub ports: Vec<PortMapping>,

    /// Command to run instead of the image's CMD, as one string
    #[arg(long, value_name = "COMMAND", conflicts_with = "command")]
    pub cmd: Option<String>,

    /// Override the image's ENTRYPOINT, as one string
    #[arg(long, value_name = "COMMAND")]
    pub entrypoint: Option<String>,

    /// Restart policy: no, always or on-fail [default: always, or no with --rm]
    #[arg(long, value_name = "POLICY", value_parser = parse_restart_policy)]
    pub restart: Option<RestartPolicy>,

    /// Memory in megabytes (or with a unit: 512mb, 1gb)
    #[arg(long = "vm-memory", visible_alias = "memory", value_name = "MB", value_parser = parse_memory_mb)]
    pub memory_mb: Option<i64>,

    /// Number of CPUs
    #[arg(long = "vm-cpus", visible_alias = "cpus", value_name = "N",
          value_parser = clap::value_parser!(i64).range(1..=64))]
    pub cpus: Option<i64>,

    /// Kind of CPU
    #[arg(long = "vm-cpu-kind", visible_alias = "cpu-kind", value_name = "KIND",
          value_parser = ["shared", "performance"])]
    pub cpu_kind: Option<String>,

    /// Volume to mount: VOLUME_ID_OR_NAME:/PATH
    #[arg(short = 'v', long = "volume", value_name = "VOLUME:/PATH")]
    pub volume: Option<VolumeMount>,

    /// Metadata, NAME=VALUE (repeatable)
    #[arg(short = 'm', long = "metadata", value_name = "NAME=VALUE", value_parser = parse_metadata)]
    pub metadata: Vec<(String, String)>,

    /// Run on a schedule instead of continuously
    #[arg(long, value_name = "INTERVAL", value_parser = ["hourly", "daily", "weekly", "monthly"])]
    pub schedule: Option<String>,

    /// Machine ids this one stands by for: it starts when one of them fails
    #[arg(long, value_name = "IDS", value_delimiter = ',')]
    pub standby_for: Vec<String>,

    /// Create the Machine without starting it
    #[arg(long)]
    pub skip_start: bool,

    /// Destroy the Machine when it exits
    #[arg(long)]
    pub rm: bool,

    /// Return once the Machine is created, without waiting for it to start
    #[arg(long)]
    pub detach: bool,

    /// How long to wait for the Machine to start
    #[arg(long, value_name = "DURATION", default_value = "120s", value_parser = parse_duration)]
    pub wait_timeout: GoDuration,
}

/// The create request for `args`. Volume names (not `vol_` ids) are left in
/// `mounts[].volume` for [`resolve_volume_names`] to replace.
pub(crate) fn build_request(args: &RunArgs) -> Result<CreateMachineRequest, CliError> {
    let invalid = |message: String| CliError::InvalidArguments(message);

    let cmd = match &args.cmd {
        Some(text) => shell_words::split(text).map_err(|e| invalid(e.to_string()))?,
        None => args.command.clone(),
    };
    let entrypoint = match &args.entrypoint {
        Some(text) => shell_words::split(text).map_err(|e| invalid(e.to_string()))?,
        None => Vec::new(),
    };
    let init = (!cmd.is_empty() || !entrypoint.is_empty()).then(|| MachineInit {
        cmd,
        entrypoint,
        ..MachineInit::default()
    });

    let policy = match (args.restart, args.rm) {
        (Some(RestartPolicy::No) | None, true) => Some(RestartPolicy::No),
        (Some(other), true) => {
            return Err(invalid(format!(
            "--rm destroys the Machine when it exits, which only works with --restart no, not {}",
            restart_policy_name(other)
        )))
        }
        (Some(policy), false) => Some(policy),
        // flyctl's `machine run` default; scheduled machines keep the API default.
        (None, false) if args.schedule.is_none() => Some(RestartPolicy::Always),
        (None, false) => None,
    };

    let guest =
        (args.memory_mb.is_some() || args.cpus.is_some() || args.cpu_kind.is_some()).then(|| {
            MachineGuest {
                cpu_kind: args.cpu_kind.clone(),
                cpus: args.cpus,
                memory_mb: args.memory_mb,
                ..MachineGuest::default()
            }
        });

    let mounts = args
        .volume
        .iter()
        .map(|mount| MachineMount {
            volume: mount.source.clone(),
            path: mount.path.clone(),
            ..MachineMount::default()
        })
        .collect();

    let config = MachineConfig {
        image: args.image.clone(),
        env: args.env.iter().cloned().collect::<BTreeMap<_, _>>(),
        init,
        guest,
        metadata: args.metadata.iter().cloned().collect(),
        mounts,
        services: services_from_ports(&args.ports),
        restart: policy.map(|policy| MachineRestart {
            policy: Some(policy),
            max_retries: None,
        }),
        auto_destroy: args.rm.then_some(true),
        schedule: args.schedule.clone(),
        standbys: args.standby_for.clone(),
        ..MachineConfig::default()
    };

    Ok(CreateMachineRequest {
        config,
        name: args.name.clone(),
        region: args.region.clone(),
        skip_launch: args.skip_start.then_some(true),
        ..CreateMachineRequest::default()
    })
}

fn restart_policy_name(policy: RestartPolicy) -> &'static str {
    match policy {
        RestartPolicy::No => "no",
        RestartPolicy::Always => "always",
        RestartPolicy::OnFailure => "on-fail",
    }
}

/// Replaces volume names in `config.mounts` by the id of an unattached
/// volume of that name (in `region`, when given).
pub(crate) async fn resolve_volume_names(
    client: &Client,
    app: &str,
    region: Option<&str>,
    config: &mut MachineConfig,
) -> anyhow::Result<()> {
    for mount in &mut config.mounts {
        if mount.volume.starts_with("vol_") {
            continue;
        }
        let name = mount.volume.clone();
        let volumes = client.list_volumes(app).await?;
        let found = volumes.iter().find(|volume| {
            volume.name == name
                && volume.attached_machine_id.is_none()
                && region.is_none_or(|region| volume.region == region)
                && !volume.state.contains("destroy")
        });
        let Some(volume) = found else {
            return Err(CliError::InvalidArguments(format!(
                "app {app} has no unattached volume named {name:?}{}: create one first, or pass \
                 its id (vol_…) to --volume",
                region
                    .map(|region| format!(" in region {region}"))
                    .unwrap_or_default()
            ))
            .into());
        };
        mount.volume = volume.id.clone();
        mount.name = Some(volume.name.clone());
    }
    Ok(())
}

pub(crate) async fn run(ctx: &Context, app: &str, args: RunArgs) -> anyhow::Result<i32> {
    let mut request = build_request(&args)?;
    let client = ctx.client()?;
    resolve_volume_names(&client, app, args.region.as_deref(), &mut request.config).await?;

    let machine = client.create_machine(app, &request).await?;
    if !ctx.output.is_json() {
        ctx.output.note(format_args!(
            "Machine {} ({}) created in app {app}, region {}",
            machine.id, machine.name, machine.region
        ));
    }
    let machine = if args.skip_start || args.detach {
        machine
    } else {
        wait_until_started(ctx, &client, app, &machine, args.wait_timeout).await?
    };
    print_machine(ctx, &machine)?;
    Ok(0)
}

/// Waits for a newly created machine to start and returns its fresh state.
pub(crate) async fn wait_until_started(
    ctx: &Context,
    client: &Client,
    app: &str,
    machine: &Machine,
    timeout: GoDuration,
) -> anyhow::Result<Machine> {
    if !ctx.output.is_json() {
        ctx.output
            .note(format_args!("Waiting for {} to start...", machine.id));
    }
    let settled = wait_for_state(
        client,
        app,
        &machine.id,
        Some(&machine.instance_id),
        MachineState::Started,
        timeout.as_duration(),
    )
    .await?;
    if let Settled::Exited { exit_code } = settled {
        if !ctx.output.is_json() {
            ctx.output.note(format_args!(
                "{} started and has already exited{}; its output: `hangar machine logs {} -a {app}`",
                machine.id,
                exit_code
                    .map(|code| format!(" with code {code}"))
                    .unwrap_or_default(),
                machine.id
            ));
        }
    }
    match client.get_machine(app, &machine.id).await {
        Ok(fresh) => Ok(fresh),
        // An --rm machine may be gone already.
        Err(err) if err.is_not_found() => Ok(machine.clone()),
        Err(err) => Err(err.into()),
    }
}

/// The summary printed after run and clone.
pub(crate) fn print_machine(ctx: &Context, machine: &Machine) -> anyhow::Result<()> {
    if ctx.output.is_json() {
        ctx.output.json(machine)
    } else {
        ctx.output.details(&render::machine_summary(machine))
    }
}

#[cfg(test)]
mod tests {
    use hangar_types::RestartPolicy;

    use super::super::tests::machine;
    use super::super::MachineCommand;
    use super::*;

    fn request(args: &[&str]) -> Result<CreateMachineRequest, CliError> {
        let MachineCommand::Run(run_args) = machine(&[&["run"], args].concat()) else {
            panic!()
        };
        build_request(&run_args)
    }

    #[test]
    fn the_full_flag_set_becomes_a_create_request() {
        let request = request(&[
            "busybox:latest",
            "--name",
            "web-1",
            "--region",
            "dev",
            "-e",
            "PORT=8080",
            "--env",
            "MODE=a=b",
            "-p",
            "80:8080/tcp:http",
            "--port",
            "443:8080/tcp:http:tls",
            "--cmd",
            "httpd -f -p 8080",
            "--entrypoint",
            "/bin/sh -c",
            "--restart",
            "on-fail",
            "--memory",
            "512",
            "--cpus",
            "2",
            "--cpu-kind",
            "shared",
            "--volume",
            "vol_0123456789abcdef:/data",
            "-m",
            "role=web",
            "--skip-start",
        ])
        .unwrap();
        assert_eq!(request.name.as_deref(), Some("web-1"));
        assert_eq!(request.region.as_deref(), Some("dev"));
        assert_eq!(request.skip_launch, Some(true));
        let config = &request.config;
        assert_eq!(config.image, "busybox:latest");
        assert_eq!(config.env["PORT"], "8080");
        assert_eq!(config.env["MODE"], "a=b");
        let init = config.init.as_ref().unwrap();
        assert_eq!(init.cmd, ["httpd", "-f", "-p", "8080"]);
        assert_eq!(init.entrypoint, ["/bin/sh", "-c"]);
        assert_eq!(
            config.restart.as_ref().unwrap().policy,
            Some(RestartPolicy::OnFailure)
        );
        let guest = config.guest.as_ref().unwrap();
        assert_eq!(
            (guest.memory_mb, guest.cpus, guest.cpu_kind.as_deref()),
            (Some(512), Some(2), Some("shared"))
        );
        assert_eq!(config.mounts[0].volume, "vol_0123456789abcdef");
        assert_eq!(config.mounts[0].path, "/data");
        assert_eq!(config.metadata["role"], "web");
        assert_eq!(config.services.len(), 1);
        assert_eq!(config.services[0].internal_port, 8080);
        assert_eq!(config.services[0].ports.len(), 2);
    }

    #[test]
    fn a_bare_image_gets_flyctls_defaults() {
        let request = request(&["nginx"]).unwrap();
        assert_eq!(request.config.image, "nginx");
        assert!(request.config.init.is_none());
        assert!(request.config.guest.is_none());
        assert!(request.config.services.is_empty());
        assert_eq!(request.skip_launch, None);
        let json = serde_json::to_value(&request).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"config": {"image": "nginx", "restart": {"policy": "always"}}})
        );
    }

    #[test]
    fn the_command_after_the_image_is_the_cmd() {
        let request = request(&["busybox", "sh", "-c", "echo hi; sleep 1"]).unwrap();
        assert_eq!(
            request.config.init.unwrap().cmd,
            ["sh", "-c", "echo hi; sleep 1"]
        );
    }

    #[test]
    fn rm_means_auto_destroy_and_no_restart() {
        let request = request(&["busybox", "--rm"]).unwrap();
        assert_eq!(request.config.auto_destroy, Some(true));
        assert_eq!(
            request.config.restart.unwrap().policy,
            Some(RestartPolicy::No)
        );
        let err = super::super::tests::machine(&["run", "busybox", "--rm", "--restart", "always"]);
        let MachineCommand::Run(args) = err else {
            panic!()
        };
        let message = build_request(&args).unwrap_err().to_string();
        assert!(message.contains("--restart no"), "{message}");
    }

    #[test]
    fn scheduled_machines_keep_the_api_default_policy() {
        let request = request(&["busybox", "--schedule", "daily"]).unwrap();
        assert_eq!(request.config.schedule.as_deref(), Some("daily"));
        assert!(request.config.restart.is_none());
    }

    #[test]
    fn cmd_and_positional_command_conflict() {
        use clap::Parser;
        let result = crate::Cli::try_parse_from([
            "hangar", "machine", "run", "busybox", "--cmd", "ls", "ls",
        ]);
        assert!(result.is_err());
    }

    #[test]
    fn flag_values_are_checked_by_the_parser() {
        use clap::Parser;
        for bad in [
            ["--port", "http"],
            ["--env", "NOVALUE"],
            ["--restart", "sometimes"],
            ["--memory", "lots"],
            ["--cpus", "0"],
            ["--volume", "data"],
        ] {
            let result = crate::Cli::try_parse_from(
                [&["hangar", "machine", "run", "busybox"][..], &bad[..]].concat(),
            );
            assert!(result.is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn an_unbalanced_cmd_quote_is_explained() {
        let message = request(&["busybox", "--cmd", "echo 'hi"])
            .unwrap_err()
            .to_string();
        assert!(message.contains("close the quote"), "{message}");
    }
}
