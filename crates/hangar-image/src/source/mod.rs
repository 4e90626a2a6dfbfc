//! Where image content comes from: a local layout or archive, or a registry.

pub(crate) mod local;
pub(crate) mod registry;

use std::sync::Arc;

use crate::digest::Digest;
use crate::error::ImageError;
use local::LocalSource;
use registry::RegistrySession;

/// An opened image source.
pub(crate) enum Origin {
    Local(Arc<LocalSource>),
    Registry(RegistrySession),
}

impl Origin {
    /// A manifest or index by digest, verified.
    pub(crate) async fn manifest(
        &mut self,
        digest: &Digest,
        max: u64,
    ) -> Result<Vec<u8>, ImageError> {
        match self {
            Origin::Local(_) => self.small_blob(digest, max).await,
            Origin::Registry(session) => {
                let (bytes, _) = session.manifest(&digest.to_string()).await?;
                let actual = Digest::of(&bytes);
                if &actual != digest {
                    return Err(ImageError::DigestMismatch {
                        what: format!("manifest {digest}"),
                        expected: digest.to_string(),
                        actual: actual.to_string(),
                    });
                }
                Ok(bytes)
            }
        }
    }

    /// A small blob (an image config) by digest, verified.
    pub(crate) async fn small_blob(
        &mut self,
        digest: &Digest,
        max: u64,
    ) -> Result<Vec<u8>, ImageError> {
        match self {
            Origin::Local(source) => {
                let source = Arc::clone(source);
                let digest = digest.clone();
                run_blocking(move || source.read_blob(&digest, max)).await
            }
            Origin::Registry(session) => session.small_blob(digest, max).await,
        }
    }
}

/// Runs blocking filesystem work off the async executor.
pub(crate) async fn run_blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ImageError> + Send + 'static,
) -> Result<T, ImageError> {
    tokio::task::spawn_blocking(work).await.map_err(|e| {
        ImageError::io(
            "image store worker thread failed",
            std::io::Error::other(e.to_string()),
        )
    })?
}
