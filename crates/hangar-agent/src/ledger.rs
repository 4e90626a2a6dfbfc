//! The agent's local ledger: every Machine record, its events and the
//! volumes on this host, in a durable store. After a crash the agent
//! rebuilds everything from here.

use std::sync::Arc;

use hangar_store::{Op, Store, StoreError, StoreExt, Txn};
use hangar_types::MachineEvent;
use serde::{de::DeserializeOwned, Serialize};

use crate::machine::record::MachineRecord;

/// Events kept per Machine; older ones are pruned.
const EVENTS_KEPT: usize = 200;

/// Typed access to the agent's store.
#[derive(Clone)]
pub struct Ledger {
    store: Arc<dyn Store>,
}

fn machine_key(id: &str) -> String {
    format!("machines/{id}")
}

fn event_prefix(machine_id: &str) -> String {
    format!("events/{machine_id}/")
}

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(value).map_err(|e| StoreError::Serialization {
        key: String::new(),
        message: e.to_string(),
    })
}

impl Ledger {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Ledger { store }
    }

    /// Writes a record and, in the same transaction, the event that caused it.
    pub async fn save(
        &self,
        record: &MachineRecord,
        event: Option<&MachineEvent>,
    ) -> Result<(), StoreError> {
        let mut ops = vec![Op::Put {
            key: machine_key(&record.id),
            value: encode(record)?,
        }];
        if let Some(event) = event {
            ops.push(Op::Put {
                key: format!("{}{}", event_prefix(&record.id), event.id),
                value: encode(event)?,
            });
        }
        self.store
            .txn(Txn {
                compares: Vec::new(),
                success: ops,
                failure: Vec::new(),
            })
            .await?;
        Ok(())
    }

    /// Every Machine record on this host, destroyed ones included.
    pub async fn machines(&self) -> Result<Vec<MachineRecord>, StoreError> {
        Ok(self
            .store
            .list_json::<MachineRecord>("machines/")
            .await?
            .into_iter()
            .map(|(_, r, _)| r)
            .collect())
    }

    /// A Machine's events, newest first.
    pub async fn events(&self, machine_id: &str) -> Result<Vec<MachineEvent>, StoreError> {
        let mut events: Vec<MachineEvent> = self
            .store
            .list_json::<MachineEvent>(&event_prefix(machine_id))
            .await?
            .into_iter()
            .map(|(_, e, _)| e)
            .collect();
        events.reverse();
        Ok(events)
    }

    /// Removes a Machine's record and events.
    pub async fn forget(&self, machine_id: &str) -> Result<(), StoreError> {
        self.store
            .txn(Txn {
                compares: Vec::new(),
                success: vec![
                    Op::Delete {
                        key: machine_key(machine_id),
                    },
                    Op::DeletePrefix {
                        prefix: event_prefix(machine_id),
                    },
                ],
                failure: Vec::new(),
            })
            .await?;
        Ok(())
    }

    /// Drops the oldest events beyond the retention count.
    pub async fn prune_events(&self, machine_id: &str) -> Result<(), StoreError> {
        let list = self.store.list(&event_prefix(machine_id)).await?;
        if list.kvs.len() <= EVENTS_KEPT {
            return Ok(());
        }
        let excess = list.kvs.len() - EVENTS_KEPT;
        let ops = list.kvs[..excess]
            .iter()
            .map(|kv| Op::Delete {
                key: kv.key.clone(),
            })
            .collect();
        self.store
            .txn(Txn {
                compares: Vec::new(),
                success: ops,
                failure: Vec::new(),
            })
            .await?;
        Ok(())
    }

    /// Reads any JSON value (volumes, IP allocations).
    pub async fn get<T: DeserializeOwned + Send>(
        &self,
        key: &str,
    ) -> Result<Option<T>, StoreError> {
        Ok(self.store.get_json::<T>(key).await?.map(|(v, _)| v))
    }

    pub async fn put<T: Serialize + Sync>(&self, key: &str, value: &T) -> Result<(), StoreError> {
        self.store.put_json(key, value).await.map(|_| ())
    }

    pub async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.store.delete(key).await.map(|_| ())
    }

    pub async fn list<T: DeserializeOwned + Send>(
        &self,
        prefix: &str,
    ) -> Result<Vec<T>, StoreError> {
        Ok(self
            .store
            .list_json::<T>(prefix)
            .await?
            .into_iter()
            .map(|(_, v, _)| v)
            .collect())
    }
}
