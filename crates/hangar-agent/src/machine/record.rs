//! What the agent remembers about one Machine, persisted in its ledger.

use std::net::{Ipv4Addr, Ipv6Addr};

use hangar_driver::{ExitInfo, TaskHandle};
use hangar_types::{CheckStatus, ImageRef, Machine, MachineConfig, MachineState, MachineVersion};
use serde::{Deserialize, Serialize};

/// The persisted state of one Machine. The actor owns it; everyone else
/// reads snapshots.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MachineRecord {
    pub id: String,
    pub app: String,
    pub name: String,
    pub region: String,
    pub instance_id: String,
    pub config: MachineConfig,
    pub state: MachineState,
    pub created_at: String,
    pub updated_at: String,
    pub ipv4: Option<Ipv4Addr>,
    pub ipv6: Option<Ipv6Addr>,
    pub image_ref: ImageRef,
    pub cordoned: bool,
    /// The running task, while there is one: persisted so that a restarted
    /// agent can clean up what survived it.
    pub task: Option<TaskHandle>,
    /// Earlier versions, oldest first (the current one last).
    pub versions: Vec<MachineVersion>,
    /// Unix ms of recent automatic restarts, for the on-failure window.
    pub recent_restarts: Vec<i64>,
    pub checks: Vec<CheckStatus>,
    pub last_exit: Option<ExitInfo>,
    /// The oldest version of the app's secrets it may boot with.
    #[serde(default)]
    pub min_secrets_version: Option<u64>,
}

impl MachineRecord {
    /// The API view of this Machine (events are added by the caller).
    pub fn to_machine(&self) -> Machine {
        Machine {
            id: self.id.clone(),
            name: self.name.clone(),
            state: self.state,
            region: self.region.clone(),
            instance_id: self.instance_id.clone(),
            version: Some(self.instance_id.clone()),
            private_ip: self
                .ipv6
                .map(|ip| ip.to_string())
                .or_else(|| self.ipv4.map(|ip| ip.to_string()))
                .unwrap_or_else(|| "127.0.0.1".to_string()),
            private_ipv4: self.ipv4.map(|ip| ip.to_string()),
            config: self.config.clone(),
            image_ref: Some(self.image_ref.clone()),
            created_at: self.created_at.clone(),
            updated_at: self.updated_at.clone(),
            events: Vec::new(),
            checks: self.checks.clone(),
            nonce: None,
            host_status: "ok".into(),
            cordoned: self.cordoned,
        }
    }

    /// The process group from metadata, `app` by default.
    pub fn process_group(&self) -> String {
        self.config
            .metadata
            .get("fly_process_group")
            .cloned()
            .unwrap_or_else(|| "app".to_string())
    }
}

/// Now as an RFC 3339 timestamp, the format of `created_at`/`updated_at`.
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

/// Now in unix milliseconds, the format of event timestamps.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
