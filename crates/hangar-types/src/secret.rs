//! App secrets: `GET|POST|DELETE /v1/apps/{app}/secrets`. Values go in,
//! never out: listings carry a digest only.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::Deployment;

/// One secret as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SecretInfo {
    pub name: String,
    /// The first 16 hex digits of the SHA-256 of the value.
    pub digest: String,
    /// RFC 3339.
    pub created_at: String,
}

/// `POST /v1/apps/{app}/secrets`: set (or replace) secrets.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SetSecretsRequest {
    pub values: BTreeMap<String, String>,
    /// Only store them: Machines get them on their next start or deploy.
    #[serde(default)]
    pub stage: bool,
}

/// `DELETE /v1/apps/{app}/secrets`: remove secrets.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UnsetSecretsRequest {
    pub names: Vec<String>,
    #[serde(default)]
    pub stage: bool,
}

/// The answer to a secrets change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SecretsChanged {
    /// The app's secrets version after the change.
    pub secrets_version: u64,
    /// The restart-only deploy that applies the change (absent when staged
    /// or when the app has no release yet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deploy: Option<Deployment>,
}

/// Whether `name` is a usable secret name: a shell variable name
/// (letters, digits and `_`, not starting with a digit), at most 256 bytes.
pub fn is_valid_secret_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 256
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_names_are_shell_variable_names() {
        for ok in ["DATABASE_URL", "a", "_X1"] {
            assert!(is_valid_secret_name(ok), "{ok}");
        }
        for bad in ["", "1ABC", "A-B", "A B", "Ä"] {
            assert!(!is_valid_secret_name(bad), "{bad}");
        }
    }
}
