//! Apps: creation, lookup, deletion.

use std::time::Duration;

use hangar_store::{Op, StoreExt, Txn};
use hangar_types::{ids, App, ListApp, MachineState, Organization};
use serde::{Deserialize, Serialize};

use crate::http::error::{HttpError, HttpResult};
use crate::platform::certificates::{self, CertificateRecord};
use crate::platform::{now_rfc3339, ControlPlane};

/// An app as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AppRecord {
    pub id: String,
    pub name: String,
    pub org_slug: String,
    pub network: Option<String>,
    pub created_at: String,
}

/// How long deleting an app waits for each of its Machines to be destroyed.
const DESTROY_TIMEOUT: Duration = Duration::from_secs(60);

fn key(name: &str) -> String {
    format!("apps/{name}")
}

impl AppRecord {
    pub fn to_app(&self, deployed: bool) -> App {
        App {
            id: self.id.clone(),
            name: self.name.clone(),
            organization: Organization {
                name: self.org_slug.clone(),
                slug: self.org_slug.clone(),
            },
            status: if deployed { "deployed" } else { "pending" }.into(),
        }
    }

    pub fn to_list_app(&self, machine_count: i64) -> ListApp {
        ListApp {
            id: self.id.clone(),
            name: self.name.clone(),
            machine_count,
            network: serde_json::json!({ "name": self.network.clone().unwrap_or_else(|| "default".into()) }),
        }
    }
}

impl ControlPlane {
    /// The app, or 404.
    pub async fn app(&self, name: &str) -> HttpResult<AppRecord> {
        self.store
            .get_json::<AppRecord>(&key(name))
            .await?
            .map(|(a, _)| a)
            .ok_or_else(|| {
                HttpError::not_found(format!(
                    "app {name:?} not found: create it with `hangar apps create {name}`"
                ))
            })
    }

    /// Creates an app; 422 if the name is taken or invalid.
    pub async fn create_app(
        &self,
        name: &str,
        org_slug: &str,
        network: Option<String>,
    ) -> HttpResult<AppRecord> {
        if !ids::is_valid_app_name(name) {
            return Err(HttpError::unprocessable(format!(
                "invalid app name {name:?}: use 1-63 lowercase letters, digits and dashes, starting with a letter and not ending with a dash"
            )));
        }
        let record = AppRecord {
            id: ids::new_app_id(),
            name: name.to_string(),
            org_slug: org_slug.to_string(),
            network,
            created_at: now_rfc3339(),
        };
        match self.store.cas_json(&key(name), &record, 0).await? {
            Ok(_) => Ok(record),
            Err(_) => Err(HttpError::unprocessable(format!(
                "app name {name:?} is already taken: choose another name"
            ))),
        }
    }

    /// Apps of an org (every app for `personal`, the default org).
    pub async fn list_apps(&self, org_slug: Option<&str>) -> HttpResult<Vec<AppRecord>> {
        let apps = self.store.list_json::<AppRecord>("apps/").await?;
        Ok(apps
            .into_iter()
            .map(|(_, a, _)| a)
            .filter(|a| org_slug.is_none_or(|o| o == a.org_slug || o == "personal"))
            .collect())
    }

    /// Deletes an app and everything it owns: Machines (without `force` it
    /// must have none alive), volumes and snapshots, releases, secrets,
    /// deploys, leases and certificates. Refused while a deploy of the app
    /// is unfinished.
    pub async fn delete_app(&self, name: &str, force: bool) -> HttpResult<()> {
        self.app(name).await?;
        if self.workflow.get().is_some() {
            let running = self
                .deploys(name)
                .await?
                .into_iter()
                .find(|d| !d.state.is_final());
            if let Some(deploy) = running {
                return Err(HttpError::precondition(format!(
                    "app {name:?} has a deploy in progress ({}, {}); wait for it to finish, then delete the app",
                    deploy.id, deploy.state
                )));
            }
        }
        let live: Vec<_> = self
            .agent
            .list(name)
            .await
            .into_iter()
            .filter(|m| m.state != hangar_types::MachineState::Destroyed)
            .collect();
        if !live.is_empty() && !force {
            return Err(HttpError::precondition(format!(
                "app {name:?} still has {} machine(s); destroy them first or delete with force=true",
                live.len()
            )));
        }
        for m in &live {
            self.agent.destroy(&m.id, true).await?;
        }
        for m in self.agent.list(name).await {
            self.agent
                .wait(&m.id, &[MachineState::Destroyed], None, DESTROY_TIMEOUT)
                .await?;
            self.agent.forget(&m.id).await?;
        }
        for volume in self.list_volumes(name, true).await? {
            self.destroy_volume_storage(&volume).await?;
        }
        if let Some(workflow) = self.workflow.get() {
            workflow.vault.forget(name).await?;
        }
        let mut ops: Vec<Op> = [
            "releases",
            "deploys",
            "deploy-events",
            "volumes",
            "snapshots",
            "leases",
        ]
        .iter()
        .map(|kind| Op::delete_prefix(format!("{kind}/{name}/")))
        .collect();
        let domains = self
            .store
            .list_json::<CertificateRecord>(certificates::PREFIX)
            .await?;
        for (key, _, _) in domains.into_iter().filter(|(_, r, _)| r.app == name) {
            ops.push(Op::delete(key));
        }
        ops.push(Op::delete(key(name)));
        self.store.txn(Txn::new().then(ops)).await?;
        Ok(())
    }
}
