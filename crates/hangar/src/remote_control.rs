//! [`MachineControl`] for a proxy running apart from the agents: each call
//! goes to the agent that owns the Machine, at the address its route record
//! names (see `agent_api.rs`).

use std::sync::Arc;
use std::time::Duration;

use hangar_proxy::MachineControl;
use hangar_server::platform::routes::RouteSnapshot;
use tokio::sync::watch;

/// How long a start may take on the agent's side, plus slack.
const ACTION_TIMEOUT: Duration = Duration::from_secs(40);

/// Calls the owning agent's endpoint with the platform token.
pub struct RemoteAgentControl {
    routes: watch::Receiver<Arc<RouteSnapshot>>,
    token: String,
    http: reqwest::Client,
}

impl RemoteAgentControl {
    pub fn new(
        routes: watch::Receiver<Arc<RouteSnapshot>>,
        token: String,
    ) -> anyhow::Result<Arc<Self>> {
        let http = reqwest::Client::builder().timeout(ACTION_TIMEOUT).build()?;
        Ok(Arc::new(RemoteAgentControl {
            routes,
            token,
            http,
        }))
    }

    async fn act(&self, app: &str, machine_id: &str, action: &str) -> Result<(), String> {
        let agent_url = {
            let routes = self.routes.borrow();
            let record = routes
                .machines
                .iter()
                .find(|m| m.id == machine_id && m.app == app)
                .ok_or_else(|| {
                    format!("machine {machine_id} of app {app} is not in the route table")
                })?;
            record.host.agent_url.clone().ok_or_else(|| {
                format!(
                    "the host of machine {machine_id} publishes no agent address (start `hangar dev` with --agent-listen)"
                )
            })?
        };
        let url = format!(
            "{}{}",
            agent_url.trim_end_matches('/'),
            crate::agent_api::action_path(app, machine_id, action)
        );
        let response = self
            .http
            .post(&url)
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(|e| format!("cannot reach the agent at {agent_url}: {e}"))?;
        if response.status().is_success() {
            return Ok(());
        }
        let status = response.status();
        let body: serde_json::Value = response.json().await.unwrap_or_default();
        Err(format!(
            "the agent refused to {action} machine {machine_id} ({status}): {}",
            body["error"].as_str().unwrap_or("no reason given")
        ))
    }
}

#[async_trait::async_trait]
impl MachineControl for RemoteAgentControl {
    async fn start(&self, app: &str, machine_id: &str) -> Result<(), String> {
        self.act(app, machine_id, "start").await
    }

    async fn stop(&self, app: &str, machine_id: &str) -> Result<(), String> {
        self.act(app, machine_id, "stop").await
    }

    async fn suspend(&self, app: &str, machine_id: &str) -> Result<(), String> {
        self.act(app, machine_id, "suspend").await
    }
}
