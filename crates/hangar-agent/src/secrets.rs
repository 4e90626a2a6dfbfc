//! App secrets at Machine launch: the agent asks its [`SecretSource`] for
//! the app's secrets each time it builds a Machine's environment (boot and
//! exec), so secret values never enter a Machine's config, the ledger or
//! the API's answers.

use std::sync::Arc;

type Resolve = dyn Fn(&str) -> Vec<(String, String)> + Send + Sync;
type Version = dyn Fn(&str) -> u64 + Send + Sync;

/// Gives the secrets (name, value) of an app and their version. The default
/// gives none, at version 0.
#[derive(Clone, Default)]
pub struct SecretSource {
    values: Option<Arc<Resolve>>,
    version: Option<Arc<Version>>,
}

impl SecretSource {
    /// A source backed by `resolve(app)`.
    pub fn new(resolve: impl Fn(&str) -> Vec<(String, String)> + Send + Sync + 'static) -> Self {
        SecretSource {
            values: Some(Arc::new(resolve)),
            version: None,
        }
    }

    /// The same source, with the version of an app's secrets from `version(app)`.
    pub fn with_version(mut self, version: impl Fn(&str) -> u64 + Send + Sync + 'static) -> Self {
        self.version = Some(Arc::new(version));
        self
    }

    /// The secrets of `app`.
    pub fn resolve(&self, app: &str) -> Vec<(String, String)> {
        self.values.as_ref().map(|f| f(app)).unwrap_or_default()
    }

    /// The version of `app`'s secrets (0 when unknown).
    pub fn version(&self, app: &str) -> u64 {
        self.version.as_ref().map(|f| f(app)).unwrap_or_default()
    }
}

impl std::fmt::Debug for SecretSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.values.is_some() {
            "SecretSource(set)"
        } else {
            "SecretSource(none)"
        })
    }
}
