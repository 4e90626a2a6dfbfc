//! Registry errors and their OCI error bodies (`{"errors":[{code,message,detail}]}`).

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use hangar_store::StoreError;

/// The error codes of the OCI distribution specification.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    /// Blob unknown to the registry.
    BlobUnknown,
    /// Blob upload invalid.
    BlobUploadInvalid,
    /// Blob upload unknown to the registry.
    BlobUploadUnknown,
    /// Provided digest did not match uploaded content.
    DigestInvalid,
    /// Blob unknown to the repository (referenced by a manifest).
    ManifestBlobUnknown,
    /// Manifest invalid.
    ManifestInvalid,
    /// Manifest unknown.
    ManifestUnknown,
    /// Invalid repository name.
    NameInvalid,
    /// Repository name not known to the registry.
    NameUnknown,
    /// Provided length did not match content length.
    SizeInvalid,
    /// Authentication required.
    Unauthorized,
    /// Requested access to the resource is denied.
    Denied,
    /// The operation is unsupported.
    Unsupported,
    /// Too many requests, or a request the range does not fit.
    RangeInvalid,
}

impl ErrorCode {
    /// The code as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BlobUnknown => "BLOB_UNKNOWN",
            ErrorCode::BlobUploadInvalid => "BLOB_UPLOAD_INVALID",
            ErrorCode::BlobUploadUnknown => "BLOB_UPLOAD_UNKNOWN",
            ErrorCode::DigestInvalid => "DIGEST_INVALID",
            ErrorCode::ManifestBlobUnknown => "MANIFEST_BLOB_UNKNOWN",
            ErrorCode::ManifestInvalid => "MANIFEST_INVALID",
            ErrorCode::ManifestUnknown => "MANIFEST_UNKNOWN",
            ErrorCode::NameInvalid => "NAME_INVALID",
            ErrorCode::NameUnknown => "NAME_UNKNOWN",
            ErrorCode::SizeInvalid => "SIZE_INVALID",
            ErrorCode::Unauthorized => "UNAUTHORIZED",
            ErrorCode::Denied => "DENIED",
            ErrorCode::Unsupported => "UNSUPPORTED",
            ErrorCode::RangeInvalid => "BLOB_UPLOAD_INVALID",
        }
    }

    fn status(self) -> StatusCode {
        match self {
            ErrorCode::BlobUnknown
            | ErrorCode::BlobUploadUnknown
            | ErrorCode::ManifestUnknown
            | ErrorCode::NameUnknown => StatusCode::NOT_FOUND,
            ErrorCode::Unauthorized => StatusCode::UNAUTHORIZED,
            ErrorCode::Denied => StatusCode::FORBIDDEN,
            ErrorCode::Unsupported => StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::RangeInvalid => StatusCode::RANGE_NOT_SATISFIABLE,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

/// A failed registry request: an OCI error, or a server-side failure.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// An error the client caused, with its OCI code.
    #[error("{code:?}: {message}")]
    Client {
        /// The OCI code.
        code: ErrorCode,
        /// What is wrong and what to do.
        message: String,
        /// Extra structured detail (a digest, a name), if any.
        detail: serde_json::Value,
        /// `WWW-Authenticate` to send with a 401.
        challenge: Option<String>,
    },
    /// The metadata store failed.
    #[error("registry metadata store failed: {0}")]
    Store(#[from] StoreError),
    /// Disk IO failed.
    #[error("registry storage failed: {0}")]
    Io(String),
    /// The control plane could not say whether an app exists.
    #[error("cannot look up the repository's app: {0}")]
    AppLookup(String),
}

impl RegistryError {
    /// A client error with a message and no detail.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> RegistryError {
        RegistryError::Client {
            code,
            message: message.into(),
            detail: serde_json::Value::Null,
            challenge: None,
        }
    }

    /// Adds a structured detail.
    pub fn with_detail(mut self, value: serde_json::Value) -> RegistryError {
        if let RegistryError::Client { detail, .. } = &mut self {
            *detail = value;
        }
        self
    }

    /// A 401 carrying the `WWW-Authenticate` challenge.
    pub fn unauthorized(message: impl Into<String>, header: String) -> RegistryError {
        RegistryError::Client {
            code: ErrorCode::Unauthorized,
            message: message.into(),
            detail: serde_json::Value::Null,
            challenge: Some(header),
        }
    }

    /// An IO failure, naming what was being done.
    pub fn io(what: &str, err: std::io::Error) -> RegistryError {
        RegistryError::Io(format!("{what}: {err}"))
    }

    /// The OCI code, for client errors.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            RegistryError::Client { code, .. } => Some(*code),
            _ => None,
        }
    }
}

impl IntoResponse for RegistryError {
    fn into_response(self) -> Response {
        let (status, code, message, detail, challenge) = match self {
            RegistryError::Client {
                code,
                message,
                detail,
                challenge,
            } => (code.status(), code.as_str(), message, detail, challenge),
            other => {
                tracing::error!(error = %other, "registry request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "UNKNOWN",
                    other.to_string(),
                    serde_json::Value::Null,
                    None,
                )
            }
        };
        let body = serde_json::json!({
            "errors": [{"code": code, "message": message, "detail": detail}]
        });
        let mut response = (status, axum::Json(body)).into_response();
        if let Some(header) = challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
            response
                .headers_mut()
                .insert(axum::http::header::WWW_AUTHENTICATE, header);
        }
        response
    }
}
