//! The one error type of the image store.

use std::io;
use std::path::Path;

/// Why an image reference could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// The reference is not well formed.
    #[error("invalid image reference {reference:?}: {reason}")]
    InvalidReference { reference: String, reason: String },

    /// The reference is well formed but names nothing that exists.
    #[error("image {reference:?} not found: {detail}")]
    NotFound { reference: String, detail: String },

    /// The registry refused access to the image.
    #[error(
        "not authorized to pull {reference:?} from {registry}: {detail}; check that the \
         repository exists, and if it is private set HANGAR_REGISTRY_AUTH=\"{registry}=USER:PASSWORD\""
    )]
    Unauthorized {
        reference: String,
        registry: String,
        detail: String,
    },

    /// The registry could not be reached or answered with a server error.
    #[error("registry {registry} could not serve {reference:?}: {detail}")]
    Unreachable {
        reference: String,
        registry: String,
        detail: String,
    },

    /// Content did not hash to the digest that names it.
    #[error(
        "{what} does not match its digest: expected {expected}, got {actual}; \
         the image source is corrupt or was tampered with"
    )]
    DigestMismatch {
        what: String,
        expected: String,
        actual: String,
    },

    /// The image exists but uses a format or platform this store cannot run.
    #[error("image {reference:?} is not supported: {reason}")]
    Unsupported { reference: String, reason: String },

    /// A layer archive is malformed or unsafe (for example a path escaping the layer root).
    #[error("layer {layer} of image {reference:?} is rejected: {reason}")]
    InvalidLayer {
        reference: String,
        layer: String,
        reason: String,
    },

    /// A local file operation failed.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },
}

impl ImageError {
    /// True when the caller's reference is at fault (the API answers 4xx);
    /// false when the store, the network or the source is (the API answers 5xx).
    pub fn is_client_error(&self) -> bool {
        match self {
            ImageError::InvalidReference { .. }
            | ImageError::NotFound { .. }
            | ImageError::Unauthorized { .. }
            | ImageError::Unsupported { .. }
            | ImageError::InvalidLayer { .. } => true,
            ImageError::Unreachable { .. }
            | ImageError::DigestMismatch { .. }
            | ImageError::Io { .. } => false,
        }
    }

    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> ImageError {
        ImageError::Io {
            context: context.into(),
            source,
        }
    }

    pub(crate) fn io_at(action: &str, path: &Path, source: io::Error) -> ImageError {
        ImageError::io(format!("{action} {}", path.display()), source)
    }
}
