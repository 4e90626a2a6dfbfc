//! Machines, from the control plane's side: validation, naming, placement,
//! volume attachment and leases around the agent's operations.

use hangar_agent::{MachineRecord, NewMachine};
use hangar_types::{
    ids, CreateMachineRequest, Machine, MachineConfig, MachineState, UpdateMachineRequest,
};

use crate::http::error::{HttpError, HttpResult};
use crate::platform::ControlPlane;

/// Filters of `GET /v1/apps/{app}/machines`.
#[derive(Debug, Default)]
pub struct MachineFilter {
    pub include_deleted: bool,
    pub region: Option<String>,
    pub metadata: Vec<(String, String)>,
}

fn validate_config(config: &MachineConfig) -> HttpResult<()> {
    if config.image.trim().is_empty() {
        return Err(HttpError::bad_request(
            "config.image is required: name the image the machine runs, e.g. \"registry.example/app:v1\"",
        ));
    }
    if config.mounts.len() > 1 {
        return Err(HttpError::bad_request(format!(
            "a machine mounts at most one volume (config.mounts has {})",
            config.mounts.len()
        )));
    }
    for mount in &config.mounts {
        if !mount.path.starts_with('/') || mount.path == "/" {
            return Err(HttpError::bad_request(format!(
                "mount path {:?} must be an absolute path other than /",
                mount.path
            )));
        }
        if mount.volume.is_empty() && mount.name.as_deref().is_none_or(str::is_empty) {
            return Err(HttpError::bad_request(
                "config.mounts[0] needs a volume id (volume: \"vol_…\") or a volume name \
                 (name: claims a free volume of that name in the machine's region, or creates one)",
            ));
        }
    }
    if let Some(schedule) = &config.schedule {
        if !matches!(schedule.as_str(), "hourly" | "daily" | "weekly" | "monthly") {
            return Err(HttpError::bad_request(format!(
                "schedule {schedule:?} is not one of hourly, daily, weekly, monthly"
            )));
        }
    }
    if let Some(stop) = &config.stop_config {
        if let Some(sig) = &stop.signal {
            if hangar_types::signal_number(sig).is_none() {
                return Err(HttpError::bad_request(format!(
                    "stop_config.signal {sig:?} is not a signal name such as SIGINT or SIGTERM"
                )));
            }
        }
    }
    for (i, service) in config.services.iter().enumerate() {
        if !(1..=65535).contains(&service.internal_port) {
            return Err(HttpError::bad_request(format!(
                "services[{i}].internal_port must be between 1 and 65535 (got {})",
                service.internal_port
            )));
        }
    }
    Ok(())
}

impl ControlPlane {
    /// A Machine of an app, or 404.
    pub async fn machine_record(&self, app: &str, id: &str) -> HttpResult<MachineRecord> {
        match self.agent.record(id).await {
            Ok(r) if r.app == app => Ok(r),
            _ => Err(HttpError::not_found(format!(
                "machine {id} not found in app {app}"
            ))),
        }
    }

    pub async fn machine_view(&self, app: &str, id: &str) -> HttpResult<Machine> {
        self.machine_record(app, id).await?;
        Ok(self.agent.machine(id).await?)
    }

    pub async fn list_machines(
        &self,
        app: &str,
        filter: &MachineFilter,
    ) -> HttpResult<Vec<Machine>> {
        self.app(app).await?;
        Ok(self
            .agent
            .list(app)
            .await
            .into_iter()
            .filter(|r| filter.include_deleted || r.state != MachineState::Destroyed)
            .filter(|r| filter.region.as_deref().is_none_or(|reg| reg == r.region))
            .filter(|r| {
                filter
                    .metadata
                    .iter()
                    .all(|(k, v)| r.config.metadata.get(k).is_some_and(|x| x == v))
            })
            .map(|r| r.to_machine())
            .collect())
    }

    pub async fn create_machine(
        &self,
        app: &str,
        req: CreateMachineRequest,
    ) -> HttpResult<Machine> {
        self.app(app).await?;
        validate_config(&req.config)?;
        let region = self.placement_region(req.region.as_deref())?;
        let name = match req.name.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
            Some(name) => {
                if name.len() > 63
                    || !name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                {
                    return Err(HttpError::bad_request(format!(
                        "invalid machine name {name:?}: use up to 63 letters, digits, dashes and underscores"
                    )));
                }
                let taken = self
                    .agent
                    .list(app)
                    .await
                    .iter()
                    .any(|m| m.name == name && m.state != MachineState::Destroyed);
                if taken {
                    return Err(HttpError::conflict(format!(
                        "a machine named {name:?} already exists in app {app}; choose another name"
                    )));
                }
                name.to_string()
            }
            None => ids::new_machine_name(),
        };
        let id = ids::new_machine_id();
        let mut config = req.config.clone();
        let new_volumes = self.attach_mounts(app, &id, &region, &mut config).await?;
        let created = self
            .agent
            .create(NewMachine {
                id: id.clone(),
                app: app.to_string(),
                name,
                region,
                config,
                skip_launch: req.skip_launch.unwrap_or(false),
                cordoned: req.skip_service_registration.unwrap_or(false),
                min_secrets_version: req.min_secrets_version,
            })
            .await;
        if let Err(err) = created {
            self.detach_volumes_of(app, &id).await?;
            for volume in &new_volumes {
                self.delete_volume(app, volume).await?;
            }
            return Err(err.into());
        }
        let mut machine = self.agent.machine(&id).await?;
        if let Some(ttl) = req.lease_ttl {
            let lease = self
                .acquire_lease(
                    app,
                    &id,
                    Some(ttl),
                    Some("created with lease_ttl".into()),
                    None,
                    machine.instance_id.clone(),
                )
                .await?;
            machine.nonce = Some(lease.nonce);
        }
        Ok(machine)
    }

    /// Attaches the volumes `config` mounts to the new Machine `id`: a mount
    /// with a volume id takes that volume; one with only a `name` claims a
    /// free volume of that name in `region` or gets a new one of its
    /// `size_gb` (a Hangar extension, for `hangar scale count`). Returns the
    /// ids of the volumes created, for the caller to delete if the Machine
    /// cannot be created; on failure here, nothing is left attached or
    /// created.
    async fn attach_mounts(
        &self,
        app: &str,
        id: &str,
        region: &str,
        config: &mut MachineConfig,
    ) -> HttpResult<Vec<String>> {
        let mut created = Vec::new();
        for mount in &mut config.mounts {
            if mount.volume.is_empty() {
                let name = mount.name.clone().unwrap_or_default();
                let claimed = self
                    .claim_volume_by_name(app, id, region, &name, mount.size_gb.take())
                    .await?;
                mount.volume = claimed.volume.id;
                if claimed.created {
                    created.push(mount.volume.clone());
                }
            }
            if let Err(err) = self.attach_volume(app, &mount.volume, id, region).await {
                self.detach_volumes_of(app, id).await?;
                for volume in &created {
                    self.delete_volume(app, volume).await?;
                }
                return Err(err);
            }
        }
        Ok(created)
    }

    pub async fn update_machine(
        &self,
        app: &str,
        id: &str,
        req: UpdateMachineRequest,
        nonce: &Option<String>,
    ) -> HttpResult<Machine> {
        let current = self.machine_record(app, id).await?;
        self.check_lease(app, id, nonce).await?;
        validate_config(&req.config)?;
        if let Some(version) = req.current_version.as_deref().filter(|v| !v.is_empty()) {
            if version != current.instance_id {
                return Err(HttpError::precondition(format!(
                    "machine {id} is at version {}, not {version}: it changed since you read it; fetch it again and retry",
                    current.instance_id
                )));
            }
        }
        if let Some(name) = req.name.as_deref().filter(|n| !n.is_empty()) {
            if name != current.name {
                return Err(HttpError::bad_request(format!(
                    "a machine's name cannot change (it is {:?})",
                    current.name
                )));
            }
        }
        if let Some(region) = req.region.as_deref().filter(|r| !r.is_empty()) {
            if region != current.region {
                return Err(HttpError::bad_request(format!(
                    "a machine's region cannot change (it is {}); create a new machine in {region} instead",
                    current.region
                )));
            }
        }
        let old_volumes: Vec<&str> = current
            .config
            .mounts
            .iter()
            .map(|m| m.volume.as_str())
            .collect();
        let new_volumes: Vec<&str> = req
            .config
            .mounts
            .iter()
            .map(|m| m.volume.as_str())
            .collect();
        if old_volumes != new_volumes {
            return Err(HttpError::bad_request(
                "an update cannot change which volume a machine mounts; create a new machine with the other volume",
            ));
        }
        self.agent
            .update(
                id,
                req.config,
                req.skip_launch.unwrap_or(false),
                req.min_secrets_version,
            )
            .await?;
        let mut machine = self.agent.machine(id).await?;
        if let Some(ttl) = req.lease_ttl {
            let lease = self
                .acquire_lease(
                    app,
                    id,
                    Some(ttl),
                    None,
                    nonce.clone(),
                    machine.instance_id.clone(),
                )
                .await?;
            machine.nonce = Some(lease.nonce);
        }
        Ok(machine)
    }

    pub async fn destroy_machine(
        &self,
        app: &str,
        id: &str,
        force: bool,
        nonce: &Option<String>,
    ) -> HttpResult<()> {
        self.machine_record(app, id).await?;
        self.check_lease(app, id, nonce).await?;
        self.agent.destroy(id, force).await?;
        // Volume records are freed once the machine is really gone.
        let _ = self
            .agent
            .wait(
                id,
                &[MachineState::Destroyed],
                None,
                std::time::Duration::from_secs(30),
            )
            .await;
        self.detach_volumes_of(app, id).await?;
        self.forget_lease(app, id).await?;
        Ok(())
    }
}
