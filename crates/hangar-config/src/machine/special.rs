//! The release-command, console and machine-check test Machine configs (reference §2.3).

use hangar_types::{
    DnsConfig, MachineConfig, MachineInit, MachineRestart, RestartPolicy, StopConfig,
};

use super::convert::{api_duration, non_empty_init, split_command, ConvertError};
use super::guest::resolve_compute;
use super::{
    METADATA_PLATFORM_VERSION, METADATA_PROCESS_GROUP, METADATA_TOOL_VERSION, PLATFORM_VERSION_V2,
};
use crate::machine::TOOL_VERSION;
use crate::model::{Config, MachineCheck};

/// Process group (metadata and env) of the release command Machine.
pub const RELEASE_COMMAND_GROUP: &str = "fly_app_release_command";
/// Process group of the console Machine.
pub const CONSOLE_GROUP: &str = "fly_app_console";
/// Process group of a machine-check test Machine.
pub const TEST_MACHINE_GROUP: &str = "fly_app_test_machine_command";

/// The Machine a machine check tests.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OriginMachine {
    /// Its config (image, env, entrypoint are inherited).
    pub config: MachineConfig,
    /// Its 6PN address, exported as `FLY_TEST_MACHINE_IP`.
    pub private_ip: String,
}

/// Settings shared by every one-off Machine: destroyed on exit, never restarted, not in DNS.
fn one_off(group: &str) -> MachineConfig {
    let mut config = MachineConfig {
        auto_destroy: Some(true),
        restart: Some(MachineRestart {
            policy: Some(RestartPolicy::No),
            max_retries: None,
        }),
        dns: Some(DnsConfig {
            skip_registration: Some(true),
            ..DnsConfig::default()
        }),
        ..MachineConfig::default()
    };
    config
        .metadata
        .insert(METADATA_PLATFORM_VERSION.into(), PLATFORM_VERSION_V2.into());
    config
        .metadata
        .insert(METADATA_PROCESS_GROUP.into(), group.into());
    config
        .metadata
        .insert(METADATA_TOOL_VERSION.into(), TOOL_VERSION.into());
    config
}

impl Config {
    /// The release command Machine: `init.cmd` = the split release command, env plus
    /// `RELEASE_COMMAND=1`, guest from `[deploy.release_command_vm]` (else `None`: the deployer
    /// infers it), no services, mounts, checks or metrics.
    pub fn to_release_machine_config(&self) -> Result<MachineConfig, ConvertError> {
        if let Some(error) = &self.parse_error {
            return Err(ConvertError::Unparsed(error.clone()));
        }
        let mut config = one_off(RELEASE_COMMAND_GROUP);
        let command = self.release_command().unwrap_or_default();
        config.init = non_empty_init(MachineInit {
            cmd: split_command("release_command", command)?,
            entrypoint: self
                .experimental
                .as_ref()
                .and_then(|e| e.entrypoint.clone())
                .unwrap_or_default(),
            swap_size_mb: self.swap_size_mb,
            ..MachineInit::default()
        });
        config.env = self.machine_env(RELEASE_COMMAND_GROUP);
        config.env.insert("RELEASE_COMMAND".into(), "1".into());
        config.stop_config = self.stop_config();
        config.files = self.machine_files(self.files.iter())?;
        if let Some(compute) = self
            .deploy
            .as_ref()
            .and_then(|d| d.release_command_vm.as_ref())
        {
            let host = compute
                .host_dedication_id
                .as_deref()
                .or(self.host_dedication_id.as_deref());
            config.guest =
                Some(
                    resolve_compute(compute, host).map_err(|source| ConvertError::Guest {
                        group: RELEASE_COMMAND_GROUP.into(),
                        source,
                    })?,
                );
        }
        Ok(config)
    }

    /// The console Machine: sleeps forever (`init.exec = ["/bin/sleep", "inf"]`) so commands can
    /// be run in it; no stop config.
    pub fn to_console_machine_config(&self) -> Result<MachineConfig, ConvertError> {
        if let Some(error) = &self.parse_error {
            return Err(ConvertError::Unparsed(error.clone()));
        }
        let mut config = one_off(CONSOLE_GROUP);
        config.init = Some(MachineInit {
            exec: vec!["/bin/sleep".into(), "inf".into()],
            swap_size_mb: self.swap_size_mb,
            ..MachineInit::default()
        });
        config.env = self.machine_env(CONSOLE_GROUP);
        Ok(config)
    }

    /// A machine-check test Machine for `check`, testing `origin` (when known).
    ///
    /// With a custom image only the check's kill settings are used (the stop config may be empty);
    /// without one, the image comes from the tested Machine and kill settings fall back to the app's.
    pub fn to_test_machine_config(
        &self,
        check: &MachineCheck,
        origin: Option<&OriginMachine>,
    ) -> Result<MachineConfig, ConvertError> {
        if let Some(error) = &self.parse_error {
            return Err(ConvertError::Unparsed(error.clone()));
        }
        if check.command.is_empty() {
            return Err(ConvertError::MachineConfig(
                "missing command: a [[machine_checks]] entry needs `command`".into(),
            ));
        }
        let mut config = one_off(TEST_MACHINE_GROUP);
        let custom_image = check.image.as_ref().filter(|i| !i.is_empty());
        config.image = match (custom_image, origin) {
            (Some(image), _) => image.clone(),
            (None, Some(origin)) if !origin.config.image.is_empty() => origin.config.image.clone(),
            _ => {
                return Err(ConvertError::MachineConfig(
                    "missing image: the machine check names no image and there is no tested Machine to take it from"
                        .into(),
                ))
            }
        };
        let mut init = MachineInit {
            cmd: check.command.clone(),
            ..MachineInit::default()
        };
        init.entrypoint = if !check.entrypoint.is_empty() {
            check.entrypoint.clone()
        } else {
            origin
                .and_then(|o| o.config.init.as_ref())
                .map(|i| i.entrypoint.clone())
                .unwrap_or_default()
        };
        if let Some(entrypoint) = self
            .experimental
            .as_ref()
            .and_then(|e| e.entrypoint.clone())
        {
            init.entrypoint = entrypoint;
        }
        config.init = non_empty_init(init);
        config.env = self.env.clone();
        if let Some(origin) = origin {
            config.env.extend(
                origin
                    .config
                    .env
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone())),
            );
        }
        config.env.insert("FLY_TEST_COMMAND".into(), "1".into());
        config
            .env
            .insert("FLY_PROCESS_GROUP".into(), TEST_MACHINE_GROUP.into());
        if let Some(region) = self.primary_region.as_ref().filter(|r| !r.is_empty()) {
            config.env.insert("PRIMARY_REGION".into(), region.clone());
        }
        config.env.insert(
            "FLY_TEST_MACHINE_IP".into(),
            origin.map(|o| o.private_ip.clone()).unwrap_or_default(),
        );
        config.stop_config = Some(if custom_image.is_some() {
            StopConfig {
                timeout: api_duration(check.kill_timeout),
                signal: check.kill_signal.clone(),
            }
        } else {
            StopConfig {
                timeout: api_duration(check.kill_timeout.or(self.kill_timeout)),
                signal: check
                    .kill_signal
                    .clone()
                    .or_else(|| self.kill_signal.clone()),
            }
        });
        Ok(config)
    }
}
