//! Repository names, tags and digests as the registry accepts them.

use std::fmt;

use sha2::{Digest as _, Sha256};

use crate::error::{ErrorCode, RegistryError};

/// A `sha256:<64 lowercase hex>` digest.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest(String);

impl Digest {
    /// Parses a digest; anything but well-formed sha256 is DIGEST_INVALID.
    pub fn parse(text: &str) -> Result<Digest, RegistryError> {
        let hex = text.strip_prefix("sha256:").ok_or_else(|| {
            RegistryError::new(
                ErrorCode::DigestInvalid,
                format!("digest {text:?} is not supported: use sha256:<64 lowercase hex>"),
            )
        })?;
        Digest::from_hex(hex).ok_or_else(|| {
            RegistryError::new(
                ErrorCode::DigestInvalid,
                format!("digest {text:?} must be sha256: followed by 64 lowercase hex characters"),
            )
        })
    }

    /// A digest from its hex part, if well formed.
    pub fn from_hex(hex: &str) -> Option<Digest> {
        let ok = hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        ok.then(|| Digest(hex.to_owned()))
    }

    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Digest {
        Digest(hex::encode(Sha256::digest(bytes)))
    }

    /// The 64 hex characters.
    pub fn hex(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.0)
    }
}

/// A repository: `<app>` or `<app>/<name>`; the app part maps quotas.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RepoName(String);

impl RepoName {
    /// Validates a repository name (lowercase OCI path components, at most two).
    pub fn parse(name: &str) -> Result<RepoName, RegistryError> {
        let invalid = |why: &str| {
            RegistryError::new(
                ErrorCode::NameInvalid,
                format!(
                    "repository name {name:?} is invalid: {why}; use <app> or <app>/<name> \
                     with lowercase letters, digits and . _ - separators"
                ),
            )
            .with_detail(serde_json::json!({ "name": name }))
        };
        let components: Vec<&str> = name.split('/').collect();
        if components.len() > 2 {
            return Err(invalid("it has more than two path components"));
        }
        if name.len() > 255 {
            return Err(invalid("it is longer than 255 characters"));
        }
        for component in &components {
            if !valid_component(component) {
                return Err(invalid(&format!("component {component:?} is not allowed")));
            }
        }
        Ok(RepoName(name.to_owned()))
    }

    /// The app this repository belongs to (its first component).
    pub fn app(&self) -> &str {
        self.0.split('/').next().unwrap_or(&self.0)
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form used inside store keys (`/` → `:`, which names cannot contain).
    pub(crate) fn key_form(&self) -> String {
        self.0.replace('/', ":")
    }

    /// Inverse of [`RepoName::key_form`].
    pub(crate) fn from_key_form(text: &str) -> Option<RepoName> {
        RepoName::parse(&text.replace(':', "/")).ok()
    }
}

impl fmt::Display for RepoName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`
fn valid_component(component: &str) -> bool {
    let bytes = component.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if bytes.is_empty() || !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        if alnum(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let separator = &component[start..i];
        let ok = separator == "."
            || separator == "_"
            || separator == "__"
            || separator.bytes().all(|b| b == b'-');
        if !ok {
            return false;
        }
    }
    true
}

/// A manifest reference: a tag or a digest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reference {
    /// `[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`
    Tag(String),
    /// A content digest.
    Digest(Digest),
}

impl Reference {
    /// Parses a tag or `sha256:` digest.
    pub fn parse(text: &str) -> Result<Reference, RegistryError> {
        if text.contains(':') {
            return Digest::parse(text).map(Reference::Digest);
        }
        let bytes = text.as_bytes();
        let ok = !bytes.is_empty()
            && bytes.len() <= 128
            && (bytes[0].is_ascii_alphanumeric() || bytes[0] == b'_')
            && bytes
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if !ok {
            return Err(RegistryError::new(
                ErrorCode::ManifestInvalid,
                format!(
                    "tag {text:?} is invalid: up to 128 letters, digits, '.', '_' or '-', \
                     not starting with '.' or '-'"
                ),
            ));
        }
        Ok(Reference::Tag(text.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_names() {
        assert_eq!(RepoName::parse("app/img").unwrap().app(), "app");
        assert_eq!(RepoName::parse("my-app").unwrap().app(), "my-app");
        assert!(RepoName::parse("a__b/c.d").is_ok());
        for bad in ["", "App", "a/b/c", "a//b", "-a", "a_", "a/_b", "a___b"] {
            assert!(RepoName::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn references() {
        assert_eq!(Reference::parse("v1").unwrap(), Reference::Tag("v1".into()));
        assert!(matches!(
            Reference::parse(&Digest::of(b"x").to_string()).unwrap(),
            Reference::Digest(_)
        ));
        assert!(Reference::parse(".x").is_err());
        assert!(Reference::parse("sha256:abc").is_err());
    }
}
