//! Apps: creation, lookup, deletion.

use hangar_store::StoreExt;
use hangar_types::{ids, App, ListApp, Organization};
use serde::{Deserialize, Serialize};

use crate::http::error::{HttpError, HttpResult};
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

    /// Deletes an app. Without `force`, it must have no live Machines.
    pub async fn delete_app(&self, name: &str, force: bool) -> HttpResult<()> {
        self.app(name).await?;
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
        for m in live {
            self.agent.destroy(&m.id, true).await?;
        }
        for volume in self.list_volumes(name, true).await? {
            self.destroy_volume_storage(&volume).await?;
        }
        self.store.delete(&key(name)).await?;
        Ok(())
    }
}
