//! `/v1/apps/{app}/machines`: create, read, update, destroy and the
//! lifecycle actions (start, stop, suspend, restart, signal, cordon, wait).

use std::collections::BTreeMap;
use std::time::Duration;

use hangar_types::{
    CreateMachineRequest, GoDuration, Machine, MachineState, SignalRequest, StartResponse,
    StopRequest, UpdateMachineRequest,
};
use reqwest::Method;

use crate::{Client, ClientError};

/// Filters of `GET /v1/apps/{app}/machines`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListMachinesOptions {
    /// Also list destroyed machines.
    pub include_deleted: bool,
    /// Only machines in this region.
    pub region: Option<String>,
    /// Only machines whose metadata has all these key/value pairs.
    pub metadata: BTreeMap<String, String>,
}

/// How `DELETE …/machines/{id}` treats a running machine.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DestroyOptions {
    /// Stop the machine first if it runs (`?force=true`).
    pub force: bool,
    /// Kill it without a graceful stop (`?kill=true`, what flyctl sends).
    pub kill: bool,
}

/// Query of `POST …/restart`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RestartOptions {
    /// Signal for the stop half of the restart, such as `SIGTERM`.
    pub signal: Option<String>,
    /// How long to wait after the signal before killing.
    pub timeout: Option<GoDuration>,
}

/// What `GET …/wait` waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitOptions {
    pub state: MachineState,
    /// Clamped to 1–60 s, the range the API accepts.
    pub timeout: Duration,
    /// Wait for this version of the machine (needed to wait for `stopped`
    /// after an update).
    pub instance_id: Option<String>,
}

impl WaitOptions {
    /// Wait up to `timeout` for `state`, on any version.
    pub fn new(state: MachineState, timeout: Duration) -> Self {
        WaitOptions {
            state,
            timeout,
            instance_id: None,
        }
    }

    fn timeout_secs(&self) -> u64 {
        self.timeout.as_secs().clamp(1, 60)
    }
}

impl Client {
    /// `GET /v1/apps/{app}/machines`.
    pub async fn list_machines(
        &self,
        app: &str,
        options: &ListMachinesOptions,
    ) -> Result<Vec<Machine>, ClientError> {
        let mut url = self.url(&["apps", app, "machines"]);
        {
            let mut query = url.query_pairs_mut();
            if options.include_deleted {
                query.append_pair("include_deleted", "true");
            }
            if let Some(region) = &options.region {
                query.append_pair("region", region);
            }
            for (key, value) in &options.metadata {
                query.append_pair(&format!("metadata.{key}"), value);
            }
        }
        if url.query() == Some("") {
            url.set_query(None);
        }
        self.get_json(url).await
    }

    /// `POST /v1/apps/{app}/machines`: creates (and unless `skip_launch`, starts) a machine.
    pub async fn create_machine(
        &self,
        app: &str,
        request: &CreateMachineRequest,
    ) -> Result<Machine, ClientError> {
        let url = self.url(&["apps", app, "machines"]);
        self.call_json(Method::POST, url, Some(request)).await
    }

    /// `GET /v1/apps/{app}/machines/{id}`.
    pub async fn get_machine(&self, app: &str, machine_id: &str) -> Result<Machine, ClientError> {
        self.get_json(self.url(&["apps", app, "machines", machine_id]))
            .await
    }

    /// `POST /v1/apps/{app}/machines/{id}`: replaces the machine's config.
    pub async fn update_machine(
        &self,
        app: &str,
        machine_id: &str,
        request: &UpdateMachineRequest,
    ) -> Result<Machine, ClientError> {
        let url = self.url(&["apps", app, "machines", machine_id]);
        self.call_json(Method::POST, url, Some(request)).await
    }

    /// `DELETE /v1/apps/{app}/machines/{id}`.
    pub async fn destroy_machine(
        &self,
        app: &str,
        machine_id: &str,
        options: DestroyOptions,
    ) -> Result<(), ClientError> {
        let mut url = self.url(&["apps", app, "machines", machine_id]);
        if options.force {
            url.query_pairs_mut().append_pair("force", "true");
        }
        if options.kill {
            url.query_pairs_mut().append_pair("kill", "true");
        }
        self.send(Method::DELETE, url).await.map(drop)
    }

    /// `POST …/{id}/start`: starts a created or stopped machine, resumes a suspended one.
    pub async fn start_machine(
        &self,
        app: &str,
        machine_id: &str,
    ) -> Result<StartResponse, ClientError> {
        let url = self.url(&["apps", app, "machines", machine_id, "start"]);
        self.call_json(Method::POST, url, None::<&()>).await
    }

    /// `POST …/{id}/stop`, with an optional signal and timeout.
    pub async fn stop_machine(
        &self,
        app: &str,
        machine_id: &str,
        request: Option<&StopRequest>,
    ) -> Result<(), ClientError> {
        let url = self.url(&["apps", app, "machines", machine_id, "stop"]);
        self.send_with(Method::POST, url, None, request)
            .await
            .map(drop)
    }

    /// `POST …/{id}/suspend`.
    pub async fn suspend_machine(&self, app: &str, machine_id: &str) -> Result<(), ClientError> {
        self.machine_action(app, machine_id, "suspend").await
    }

    /// `POST …/{id}/restart`.
    pub async fn restart_machine(
        &self,
        app: &str,
        machine_id: &str,
        options: &RestartOptions,
    ) -> Result<(), ClientError> {
        let mut url = self.url(&["apps", app, "machines", machine_id, "restart"]);
        if let Some(signal) = &options.signal {
            url.query_pairs_mut().append_pair("signal", signal);
        }
        if let Some(timeout) = &options.timeout {
            url.query_pairs_mut()
                .append_pair("timeout", &timeout.to_string());
        }
        self.send(Method::POST, url).await.map(drop)
    }

    /// `POST …/{id}/signal`.
    pub async fn signal_machine(
        &self,
        app: &str,
        machine_id: &str,
        request: &SignalRequest,
    ) -> Result<(), ClientError> {
        let url = self.url(&["apps", app, "machines", machine_id, "signal"]);
        self.send_json(Method::POST, url, request).await.map(drop)
    }

    /// `POST …/{id}/cordon`: takes the machine out of proxy routing.
    pub async fn cordon_machine(&self, app: &str, machine_id: &str) -> Result<(), ClientError> {
        self.machine_action(app, machine_id, "cordon").await
    }

    /// `POST …/{id}/uncordon`: puts the machine back into proxy routing.
    pub async fn uncordon_machine(&self, app: &str, machine_id: &str) -> Result<(), ClientError> {
        self.machine_action(app, machine_id, "uncordon").await
    }

    /// `GET …/{id}/wait`: blocks until the machine is in `options.state`.
    /// A 408 from the API becomes [`ClientError::WaitTimeout`].
    pub async fn wait_for_state(
        &self,
        app: &str,
        machine_id: &str,
        options: &WaitOptions,
    ) -> Result<(), ClientError> {
        let mut url = self.url(&["apps", app, "machines", machine_id, "wait"]);
        {
            let mut query = url.query_pairs_mut();
            query.append_pair("state", options.state.as_str());
            query.append_pair("timeout", &options.timeout_secs().to_string());
            if let Some(instance_id) = &options.instance_id {
                query.append_pair("instance_id", instance_id);
            }
        }
        match self.send(Method::GET, url).await {
            Ok(_) => Ok(()),
            Err(ClientError::Api { status: 408, .. }) => Err(ClientError::WaitTimeout {
                machine: machine_id.to_string(),
                state: options.state.to_string(),
                seconds: options.timeout_secs(),
            }),
            Err(err) => Err(err),
        }
    }

    async fn machine_action(
        &self,
        app: &str,
        machine_id: &str,
        action: &str,
    ) -> Result<(), ClientError> {
        let url = self.url(&["apps", app, "machines", machine_id, action]);
        self.send(Method::POST, url).await.map(drop)
    }
}
