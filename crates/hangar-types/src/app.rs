//! Apps: a named group of Machines, volumes and (later) releases.

use serde::{Deserialize, Serialize};

/// The organization an app belongs to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Organization {
    pub name: String,
    pub slug: String,
}

/// `GET /v1/apps/{app}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct App {
    pub id: String,
    pub name: String,
    pub organization: Organization,
    /// `pending` until the app has a started machine, then `deployed`.
    pub status: String,
}

/// One row of `GET /v1/apps`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ListApp {
    pub id: String,
    pub name: String,
    pub machine_count: i64,
    #[schema(value_type = Object)]
    pub network: serde_json::Value,
}

/// `GET /v1/apps?org_slug=…`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ListAppsResponse {
    pub total_apps: i64,
    pub apps: Vec<ListApp>,
}

/// `POST /v1/apps`. The spec names the app `app_name`; flyctl sends `name`:
/// both are accepted.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CreateAppRequest {
    #[serde(default, alias = "name", skip_serializing_if = "Option::is_none")]
    pub app_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org_slug: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_role_id: Option<String>,
}
