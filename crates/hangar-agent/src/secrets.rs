//! App secrets at Machine launch: the agent asks its [`SecretSource`] for
//! the app's secrets each time it builds a Machine's environment (boot and
//! exec), so secret values never enter a Machine's config, the ledger or
//! the API's answers.

use std::sync::Arc;

type Resolve = dyn Fn(&str) -> Vec<(String, String)> + Send + Sync;

/// Gives the secrets (name, value) of an app. The default gives none.
#[derive(Clone, Default)]
pub struct SecretSource(Option<Arc<Resolve>>);

impl SecretSource {
    /// A source backed by `resolve(app)`.
    pub fn new(resolve: impl Fn(&str) -> Vec<(String, String)> + Send + Sync + 'static) -> Self {
        SecretSource(Some(Arc::new(resolve)))
    }

    /// The secrets of `app`.
    pub fn resolve(&self, app: &str) -> Vec<(String, String)> {
        self.0.as_ref().map(|f| f(app)).unwrap_or_default()
    }
}

impl std::fmt::Debug for SecretSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "SecretSource(set)"
        } else {
            "SecretSource(none)"
        })
    }
}
