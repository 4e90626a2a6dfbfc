//! Typed JSON helpers over any [`Store`].

use serde::{de::DeserializeOwned, Serialize};

use crate::{Compare, Op, OpResult, Revision, Store, StoreError, Txn};

/// A compare-and-set lost: the key was not at the expected revision.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "key {key:?} changed concurrently: expected mod revision {expected_mod_revision}, \
     found {}; read it again and retry",
    current_mod_revision.map_or_else(|| "no key".to_string(), |rev| rev.to_string())
)]
pub struct Conflict {
    /// The contested key.
    pub key: String,
    /// What the caller expected (0 = key absent).
    pub expected_mod_revision: Revision,
    /// The key's actual mod revision, None if it does not exist.
    pub current_mod_revision: Option<Revision>,
}

/// JSON-typed access, available on every [`Store`] (including `Arc<dyn Store>`).
#[async_trait::async_trait]
pub trait StoreExt {
    /// Reads and decodes `key`; returns the value and its mod revision.
    async fn get_json<T: DeserializeOwned + Send>(
        &self,
        key: &str,
    ) -> Result<Option<(T, Revision)>, StoreError>;

    /// Encodes and writes `value` unconditionally; returns the new revision.
    async fn put_json<T: Serialize + Sync>(
        &self,
        key: &str,
        value: &T,
    ) -> Result<Revision, StoreError>;

    /// Writes `value` only if `key` is still at `expected_mod_revision`
    /// (0 = only if the key does not exist). The outer error is a store
    /// failure; the inner one a lost race.
    async fn cas_json<T: Serialize + Sync>(
        &self,
        key: &str,
        value: &T,
        expected_mod_revision: Revision,
    ) -> Result<Result<Revision, Conflict>, StoreError>;

    /// Decodes every key under `prefix`: (key, value, mod revision), by key.
    async fn list_json<T: DeserializeOwned + Send>(
        &self,
        prefix: &str,
    ) -> Result<Vec<(String, T, Revision)>, StoreError>;
}

fn decode<T: DeserializeOwned>(key: &str, bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|err| StoreError::Serialization {
        key: key.to_string(),
        message: err.to_string(),
    })
}

fn encode<T: Serialize>(key: &str, value: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(value).map_err(|err| StoreError::Serialization {
        key: key.to_string(),
        message: err.to_string(),
    })
}

#[async_trait::async_trait]
impl<S: Store + ?Sized> StoreExt for S {
    async fn get_json<T: DeserializeOwned + Send>(
        &self,
        key: &str,
    ) -> Result<Option<(T, Revision)>, StoreError> {
        match self.get(key).await? {
            Some(kv) => Ok(Some((decode(key, &kv.value)?, kv.mod_revision))),
            None => Ok(None),
        }
    }

    async fn put_json<T: Serialize + Sync>(
        &self,
        key: &str,
        value: &T,
    ) -> Result<Revision, StoreError> {
        let bytes = encode(key, value)?;
        self.put(key, bytes).await
    }

    async fn cas_json<T: Serialize + Sync>(
        &self,
        key: &str,
        value: &T,
        expected_mod_revision: Revision,
    ) -> Result<Result<Revision, Conflict>, StoreError> {
        let bytes = encode(key, value)?;
        let txn = Txn::new()
            .when(Compare::mod_revision(key, expected_mod_revision))
            .then(Op::put(key, bytes))
            .otherwise(Op::get(key));
        let response = self.txn(txn).await?;
        if response.succeeded {
            return Ok(Ok(response.revision));
        }
        let current_mod_revision = match response.results.first() {
            Some(OpResult::Get(current)) => current.as_ref().map(|kv| kv.mod_revision),
            other => {
                return Err(StoreError::Corrupt(format!(
                    "backend answered a failed compare-and-set on {key:?} with {other:?} \
                     instead of the requested get"
                )))
            }
        };
        Ok(Err(Conflict {
            key: key.to_string(),
            expected_mod_revision,
            current_mod_revision,
        }))
    }

    async fn list_json<T: DeserializeOwned + Send>(
        &self,
        prefix: &str,
    ) -> Result<Vec<(String, T, Revision)>, StoreError> {
        let listing = self.list(prefix).await?;
        listing
            .kvs
            .into_iter()
            .map(|kv| {
                let value = decode(&kv.key, &kv.value)?;
                Ok((kv.key, value, kv.mod_revision))
            })
            .collect()
    }
}
