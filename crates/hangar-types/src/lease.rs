//! Leases: an exclusive, TTL-bounded lock on mutating one machine.

use serde::{Deserialize, Serialize};

/// `POST …/lease` body (flyctl passes `ttl` as a query parameter instead).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CreateLeaseRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A lease as stored and shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Lease {
    pub nonce: String,
    /// Unix seconds.
    pub expires_at: i64,
    pub owner: String,
    pub description: String,
    /// The machine version (instance id) the lease was taken on.
    pub version: String,
}

/// A lease answer readable by both kinds of client: flyctl decodes the
/// envelope `{"status": "success", "data": {…}}`, spec-following clients
/// read the flat lease fields, which are repeated at the top level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LeaseEnvelope {
    pub status: String,
    pub data: Lease,
    #[serde(flatten)]
    pub flat: Lease,
}

impl LeaseEnvelope {
    pub fn success(lease: Lease) -> Self {
        LeaseEnvelope {
            status: "success".into(),
            data: lease.clone(),
            flat: lease,
        }
    }
}
