//! How failures become HTTP answers: a status code and Fly's
//! `{"error": "..."}` body.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use hangar_agent::{AgentError, ErrorClass};
use hangar_store::StoreError;
use hangar_types::{ApiError, ErrorStatus};

/// An error answer.
#[derive(Debug)]
pub struct HttpError {
    pub status: StatusCode,
    pub body: ApiError,
}

pub type HttpResult<T> = Result<T, HttpError>;

impl HttpError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        HttpError {
            status,
            body: ApiError::new(message),
        }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, message)
    }
    pub fn unprocessable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, message)
    }
    pub fn precondition(message: impl Into<String>) -> Self {
        Self::new(StatusCode::PRECONDITION_FAILED, message)
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }
    pub fn capacity(message: impl Into<String>) -> Self {
        let mut e = Self::new(StatusCode::PRECONDITION_FAILED, message);
        e.body.status = Some(ErrorStatus::InsufficientCapacity);
        e
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}

impl From<AgentError> for HttpError {
    fn from(err: AgentError) -> Self {
        let message = err.to_string();
        match err.class() {
            ErrorClass::BadRequest => HttpError::bad_request(message),
            ErrorClass::NotFound => HttpError::not_found(message),
            ErrorClass::Precondition => HttpError::precondition(message),
            ErrorClass::Timeout => HttpError::new(StatusCode::REQUEST_TIMEOUT, message),
            ErrorClass::Capacity => HttpError::capacity(message),
            ErrorClass::Internal => {
                tracing::error!(error = %message, "agent error");
                HttpError::internal(message)
            }
        }
    }
}

impl From<StoreError> for HttpError {
    fn from(err: StoreError) -> Self {
        tracing::error!(error = %err, "store error");
        HttpError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the control plane's store failed: {err}; retry shortly"),
        )
    }
}
