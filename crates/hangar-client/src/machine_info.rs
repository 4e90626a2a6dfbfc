//! What a machine holds besides its state: events, versions, metadata,
//! processes, and running a command in it.

use std::collections::BTreeMap;
use std::time::Duration;

use hangar_types::{
    ExecRequest, ExecResponse, MachineEvent, MachineVersion, MetadataValue, ProcessStat,
};
use reqwest::Method;

use crate::{Client, ClientError};

impl Client {
    /// `GET …/{id}/events`: the machine's event log, newest first.
    pub async fn machine_events(
        &self,
        app: &str,
        machine_id: &str,
    ) -> Result<Vec<MachineEvent>, ClientError> {
        self.get_json(self.url(&["apps", app, "machines", machine_id, "events"]))
            .await
    }

    /// `GET …/{id}/versions`: the machine's config history.
    pub async fn machine_versions(
        &self,
        app: &str,
        machine_id: &str,
    ) -> Result<Vec<MachineVersion>, ClientError> {
        self.get_json(self.url(&["apps", app, "machines", machine_id, "versions"]))
            .await
    }

    /// `POST …/{id}/exec`: runs a command in the machine and returns its
    /// exit code and output.
    pub async fn exec_machine(
        &self,
        app: &str,
        machine_id: &str,
        request: &ExecRequest,
    ) -> Result<ExecResponse, ClientError> {
        let url = self.url(&["apps", app, "machines", machine_id, "exec"]);
        // The command may run as long as its own timeout says.
        let client = match (request.timeout, self.request_timeout) {
            (Some(secs), Some(default)) => {
                let needed = Duration::from_secs(u64::try_from(secs).unwrap_or(0) + 30);
                self.with_request_timeout(Some(needed.max(default)))
            }
            _ => self.clone(),
        };
        client.call_json(Method::POST, url, Some(request)).await
    }

    /// `GET …/{id}/metadata`.
    pub async fn machine_metadata(
        &self,
        app: &str,
        machine_id: &str,
    ) -> Result<BTreeMap<String, String>, ClientError> {
        self.get_json(self.url(&["apps", app, "machines", machine_id, "metadata"]))
            .await
    }

    /// `POST …/{id}/metadata/{key}`: sets one key (no new machine version).
    pub async fn set_machine_metadata(
        &self,
        app: &str,
        machine_id: &str,
        key: &str,
        value: &str,
    ) -> Result<(), ClientError> {
        let url = self.url(&["apps", app, "machines", machine_id, "metadata", key]);
        let body = MetadataValue {
            value: value.to_string(),
        };
        self.send_json(Method::POST, url, &body).await.map(drop)
    }

    /// `DELETE …/{id}/metadata/{key}`.
    pub async fn delete_machine_metadata(
        &self,
        app: &str,
        machine_id: &str,
        key: &str,
    ) -> Result<(), ClientError> {
        let url = self.url(&["apps", app, "machines", machine_id, "metadata", key]);
        self.send(Method::DELETE, url).await.map(drop)
    }

    /// `GET …/{id}/ps`: the processes running in the machine.
    pub async fn machine_processes(
        &self,
        app: &str,
        machine_id: &str,
    ) -> Result<Vec<ProcessStat>, ClientError> {
        self.get_json(self.url(&["apps", app, "machines", machine_id, "ps"]))
            .await
    }
}
