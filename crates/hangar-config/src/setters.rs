//! Changes launch and deploy make to the model (flyctl's setters). In-file edits use
//! [`crate::TomlEditor`]; these keep the in-memory model in step.

use std::collections::BTreeMap;

use crate::model::{Concurrency, Config, Deploy, Experimental, ServiceHttpCheck};
use crate::units::GoDuration;

impl Config {
    /// Sets the internal port of `[http_service]`, else of `services[0]`; no-op without either.
    pub fn set_internal_port(&mut self, port: i64) {
        if let Some(http) = &mut self.http_service {
            http.internal_port = Some(port);
        } else if let Some(service) = self.services.first_mut() {
            service.internal_port = Some(port);
        }
    }

    /// Sets connection-based concurrency limits on `[http_service]`, else `services[0]`.
    pub fn set_concurrency(&mut self, soft_limit: i64, hard_limit: i64) {
        let concurrency = Some(Concurrency {
            kind: Some("connections".into()),
            hard_limit: Some(hard_limit),
            soft_limit: Some(soft_limit),
        });
        if let Some(http) = &mut self.http_service {
            http.concurrency = concurrency;
        } else if let Some(service) = self.services.first_mut() {
            service.concurrency = concurrency;
        }
    }

    /// Adds an HTTP check (`GET path` every 10s, 2s timeout, 5s grace) to `[http_service]`, else
    /// `services[0]`.
    pub fn set_http_check(&mut self, path: &str, headers: BTreeMap<String, String>) {
        let check = ServiceHttpCheck {
            interval: Some(GoDuration::from_secs(10)),
            timeout: Some(GoDuration::from_secs(2)),
            grace_period: Some(GoDuration::from_secs(5)),
            method: Some("GET".into()),
            path: Some(path.into()),
            protocol: Some("http".into()),
            tls_skip_verify: Some(false),
            tls_server_name: None,
            headers,
        };
        if let Some(http) = &mut self.http_service {
            http.checks.push(check);
        } else if let Some(service) = self.services.first_mut() {
            service.http_checks.push(check);
        }
    }

    /// Sets `[deploy] release_command`, keeping the rest of `[deploy]`.
    pub fn set_release_command(&mut self, command: &str) {
        self.deploy
            .get_or_insert_with(Deploy::default)
            .release_command = Some(command.into());
    }

    /// Sets `[experimental] cmd`, keeping the rest of `[experimental]`.
    pub fn set_docker_command(&mut self, command: Vec<String>) {
        self.experimental
            .get_or_insert_with(Experimental::default)
            .cmd = Some(command);
    }

    /// Sets `[experimental] entrypoint`, keeping the rest of `[experimental]`.
    pub fn set_docker_entrypoint(&mut self, entrypoint: Vec<String>) {
        self.experimental
            .get_or_insert_with(Experimental::default)
            .entrypoint = Some(entrypoint);
    }

    /// Adds or replaces a `[processes]` command.
    pub fn set_process(&mut self, group: &str, command: &str) {
        self.processes.insert(group.into(), command.into());
    }

    /// Sets an `[env]` variable.
    pub fn set_env(&mut self, name: &str, value: &str) {
        self.env.insert(name.into(), value.into());
    }
}
