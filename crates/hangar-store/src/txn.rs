//! Multi-key transactions: compare, then apply one of two branches atomically.

use std::collections::HashSet;

use crate::{prefix_matches, KeyValue, Revision, StoreError};

/// A guard evaluated against the state before the transaction applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Compare {
    /// The key's `mod_revision` equals `revision`; `revision` 0 means the key
    /// must not exist.
    ModRevision {
        /// Key to check.
        key: String,
        /// Expected mod revision (0 = absent).
        revision: Revision,
    },
    /// The key's `version` equals `version`; 0 means the key must not exist.
    Version {
        /// Key to check.
        key: String,
        /// Expected version (0 = absent).
        version: i64,
    },
    /// The key exists.
    Exists(String),
    /// The key does not exist.
    Missing(String),
}

impl Compare {
    /// Guard: `key` was last written at `revision` (0 = must not exist).
    pub fn mod_revision(key: impl Into<String>, revision: Revision) -> Self {
        Compare::ModRevision {
            key: key.into(),
            revision,
        }
    }

    /// Guard: `key` has been put `version` times since creation (0 = absent).
    pub fn version(key: impl Into<String>, version: i64) -> Self {
        Compare::Version {
            key: key.into(),
            version,
        }
    }

    /// Guard: `key` exists.
    pub fn exists(key: impl Into<String>) -> Self {
        Compare::Exists(key.into())
    }

    /// Guard: `key` does not exist.
    pub fn missing(key: impl Into<String>) -> Self {
        Compare::Missing(key.into())
    }

    /// The key this guard looks at.
    pub fn key(&self) -> &str {
        match self {
            Compare::ModRevision { key, .. } | Compare::Version { key, .. } => key,
            Compare::Exists(key) | Compare::Missing(key) => key,
        }
    }

    /// Evaluates the guard given the key's current state. Backends that fetch
    /// the key themselves use this so every backend agrees on the semantics.
    pub fn holds(&self, current: Option<&KeyValue>) -> bool {
        match self {
            Compare::ModRevision { revision, .. } => {
                current.map_or(0, |kv| kv.mod_revision) == *revision
            }
            Compare::Version { version, .. } => current.map_or(0, |kv| kv.version) == *version,
            Compare::Exists(_) => current.is_some(),
            Compare::Missing(_) => current.is_none(),
        }
    }
}

impl From<Compare> for Vec<Compare> {
    fn from(compare: Compare) -> Self {
        vec![compare]
    }
}

/// One operation inside a transaction branch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Create or overwrite a key.
    Put {
        /// Key to write.
        key: String,
        /// New value.
        value: Vec<u8>,
    },
    /// Remove a key (no effect if absent).
    Delete {
        /// Key to remove.
        key: String,
    },
    /// Remove every key under a prefix.
    DeletePrefix {
        /// Prefix of the keys to remove.
        prefix: String,
    },
    /// Read a key (sees earlier writes of the same branch).
    Get {
        /// Key to read.
        key: String,
    },
}

impl Op {
    /// Put `value` at `key`.
    pub fn put(key: impl Into<String>, value: impl Into<Vec<u8>>) -> Self {
        Op::Put {
            key: key.into(),
            value: value.into(),
        }
    }

    /// Delete `key`.
    pub fn delete(key: impl Into<String>) -> Self {
        Op::Delete { key: key.into() }
    }

    /// Delete every key under `prefix`.
    pub fn delete_prefix(prefix: impl Into<String>) -> Self {
        Op::DeletePrefix {
            prefix: prefix.into(),
        }
    }

    /// Read `key`.
    pub fn get(key: impl Into<String>) -> Self {
        Op::Get { key: key.into() }
    }
}

impl From<Op> for Vec<Op> {
    fn from(op: Op) -> Self {
        vec![op]
    }
}

/// What one [`Op`] did, in the same position as the op in its branch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpResult {
    /// The put happened; `prev` is the key's state before it.
    Put {
        /// Previous state of the key, if it existed.
        prev: Option<KeyValue>,
    },
    /// The delete ran; `prev` is what was removed (None if the key was absent).
    Delete {
        /// Removed key, if it existed.
        prev: Option<KeyValue>,
    },
    /// The prefix delete ran; `deleted` lists the removed keys in key order.
    DeletePrefix {
        /// Removed keys.
        deleted: Vec<KeyValue>,
    },
    /// The read's result.
    Get(Option<KeyValue>),
}

/// A transaction: if every compare holds, apply `success`, else `failure`.
/// Either branch runs atomically and, if it writes anything, under one new
/// revision.
///
/// Rules shared with etcd: a branch may not put the same key twice, and may
/// not both put and delete the same key (see [`Txn::validate`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Txn {
    /// Guards; all must hold for `success` to run.
    pub compares: Vec<Compare>,
    /// Ops applied when every compare holds.
    pub success: Vec<Op>,
    /// Ops applied otherwise.
    pub failure: Vec<Op>,
}

impl Txn {
    /// An empty transaction (no guards, no ops).
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one or more guards.
    pub fn when(mut self, compares: impl Into<Vec<Compare>>) -> Self {
        self.compares.extend(compares.into());
        self
    }

    /// Adds one or more ops to the success branch.
    pub fn then(mut self, ops: impl Into<Vec<Op>>) -> Self {
        self.success.extend(ops.into());
        self
    }

    /// Adds one or more ops to the failure branch.
    pub fn otherwise(mut self, ops: impl Into<Vec<Op>>) -> Self {
        self.failure.extend(ops.into());
        self
    }

    /// Checks the rules every backend enforces before running anything:
    /// no empty keys, no key put twice in a branch, no key both put and
    /// deleted in a branch.
    pub fn validate(&self) -> Result<(), StoreError> {
        for compare in &self.compares {
            check_key(compare.key())?;
        }
        validate_branch("success", &self.success)?;
        validate_branch("failure", &self.failure)
    }
}

/// Rejects the empty key, which no backend can store.
pub(crate) fn check_key(key: &str) -> Result<(), StoreError> {
    if key.is_empty() {
        return Err(StoreError::InvalidRequest(
            "empty key; keys must be non-empty strings".to_string(),
        ));
    }
    Ok(())
}

fn validate_branch(branch: &str, ops: &[Op]) -> Result<(), StoreError> {
    let mut put_keys = HashSet::new();
    for op in ops {
        match op {
            Op::Put { key, .. } => {
                check_key(key)?;
                if !put_keys.insert(key.as_str()) {
                    return Err(StoreError::InvalidRequest(format!(
                        "{branch} branch puts key {key:?} twice; merge the puts into one"
                    )));
                }
            }
            Op::Delete { key } | Op::Get { key } => check_key(key)?,
            Op::DeletePrefix { .. } => {}
        }
    }
    for op in ops {
        let overlapping = match op {
            Op::Delete { key } => put_keys.iter().find(|put| **put == key.as_str()),
            Op::DeletePrefix { prefix } => put_keys.iter().find(|put| prefix_matches(prefix, put)),
            Op::Put { .. } | Op::Get { .. } => None,
        };
        if let Some(key) = overlapping {
            return Err(StoreError::InvalidRequest(format!(
                "{branch} branch both puts and deletes key {key:?}; \
                 split it into two transactions"
            )));
        }
    }
    Ok(())
}

/// Outcome of a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnResponse {
    /// True when every compare held and the success branch ran.
    pub succeeded: bool,
    /// Store revision after the transaction (the new revision if it wrote).
    pub revision: Revision,
    /// One result per op of the branch that ran, in order.
    pub results: Vec<OpResult>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(mod_revision: Revision, version: i64) -> KeyValue {
        KeyValue {
            key: "/k".to_string(),
            value: Vec::new(),
            create_revision: 1,
            mod_revision,
            version,
        }
    }

    #[test]
    fn compares_treat_absent_keys_as_revision_and_version_zero() {
        assert!(Compare::mod_revision("/k", 0).holds(None));
        assert!(Compare::version("/k", 0).holds(None));
        assert!(!Compare::mod_revision("/k", 0).holds(Some(&kv(3, 1))));
        assert!(Compare::mod_revision("/k", 3).holds(Some(&kv(3, 1))));
        assert!(Compare::version("/k", 2).holds(Some(&kv(3, 2))));
        assert!(Compare::exists("/k").holds(Some(&kv(3, 1))));
        assert!(Compare::missing("/k").holds(None));
    }

    #[test]
    fn builder_accepts_single_items_vectors_and_arrays() {
        let txn = Txn::new()
            .when(Compare::exists("/a"))
            .when([Compare::missing("/b"), Compare::missing("/c")])
            .then(Op::put("/b", b"1".to_vec()))
            .then(vec![Op::get("/a")])
            .otherwise(Op::get("/b"));
        assert_eq!(txn.compares.len(), 3);
        assert_eq!(txn.success.len(), 2);
        assert_eq!(txn.failure.len(), 1);
        assert!(txn.validate().is_ok());
    }

    #[test]
    fn validation_rejects_conflicting_writes_per_branch_only() {
        let duplicate = Txn::new().then(vec![Op::put("/a", vec![]), Op::put("/a", vec![])]);
        assert!(matches!(
            duplicate.validate(),
            Err(StoreError::InvalidRequest(_))
        ));
        let put_and_prefix_delete =
            Txn::new().then(vec![Op::put("/a/b", vec![]), Op::delete_prefix("/a/")]);
        assert!(matches!(
            put_and_prefix_delete.validate(),
            Err(StoreError::InvalidRequest(_))
        ));
        let separate_branches = Txn::new()
            .then(Op::put("/a", vec![]))
            .otherwise(Op::delete("/a"));
        assert!(separate_branches.validate().is_ok());
        let deletes_overlap = Txn::new().then(vec![Op::delete("/a/b"), Op::delete_prefix("/a/")]);
        assert!(
            deletes_overlap.validate().is_ok(),
            "overlapping deletes are allowed"
        );
        let empty_compare_key = Txn::new().when(Compare::exists(""));
        assert!(matches!(
            empty_compare_key.validate(),
            Err(StoreError::InvalidRequest(_))
        ));
    }
}
