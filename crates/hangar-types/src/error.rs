//! The error body every API error carries: `{"error": "...", "status": "..."}`.

use serde::{Deserialize, Serialize};

/// Machine-readable class of an error, as Fly's API reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorStatus {
    Unknown,
    InsufficientCapacity,
}

/// The JSON body of every non-2xx answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = ErrorResponse)]
pub struct ApiError {
    /// What went wrong and what to do about it.
    pub error: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ErrorStatus>,
}

impl ApiError {
    pub fn new(message: impl Into<String>) -> Self {
        ApiError {
            error: message.into(),
            status: None,
        }
    }
}
