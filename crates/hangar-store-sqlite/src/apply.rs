//! Applying one transaction or compaction inside the writer's SQLite
//! transaction.

use hangar_store::{
    KeyValue, Op, OpResult, Revision, StoreError, Txn, TxnResponse, WatchEvent, WatchEventKind,
};
use rusqlite::{params, Connection};

use crate::error::sqlite_error;
use crate::query;

/// Runs `txn` against `conn` (already inside a transaction). Returns the
/// response and the watch events it produced, all at the response revision.
pub(crate) fn apply_txn(
    conn: &Connection,
    txn: &Txn,
) -> Result<(TxnResponse, Vec<WatchEvent>), StoreError> {
    let current = query::meta(conn, "revision")?;
    let mut succeeded = true;
    for compare in &txn.compares {
        let state = query::get(conn, compare.key())?;
        if !compare.holds(state.as_ref()) {
            succeeded = false;
            break;
        }
    }
    let ops = if succeeded {
        &txn.success
    } else {
        &txn.failure
    };
    let mut writer = RevisionWriter {
        conn,
        revision: current + 1,
        events: Vec::new(),
    };
    let mut results = Vec::with_capacity(ops.len());
    for op in ops {
        results.push(writer.apply(op)?);
    }
    let events = writer.events;
    let revision = if events.is_empty() {
        current
    } else {
        conn.prepare_cached("UPDATE meta SET value = ?1 WHERE name = 'revision'")
            .and_then(|mut stmt| stmt.execute([current + 1]))
            .map_err(|err| sqlite_error("advancing the store revision", err))?;
        current + 1
    };
    Ok((
        TxnResponse {
            succeeded,
            revision,
            results,
        },
        events,
    ))
}

/// Writes ops of one transaction under one new revision and records events.
struct RevisionWriter<'c> {
    conn: &'c Connection,
    revision: Revision,
    events: Vec<WatchEvent>,
}

impl RevisionWriter<'_> {
    fn apply(&mut self, op: &Op) -> Result<OpResult, StoreError> {
        match op {
            Op::Put { key, value } => {
                let prev = query::get(self.conn, key)?;
                let kv = KeyValue {
                    key: key.clone(),
                    value: value.clone(),
                    create_revision: prev.as_ref().map_or(self.revision, |p| p.create_revision),
                    mod_revision: self.revision,
                    version: prev.as_ref().map_or(1, |p| p.version + 1),
                };
                self.conn
                    .prepare_cached(
                        "INSERT OR REPLACE INTO kv \
                         (key, value, create_revision, mod_revision, version) \
                         VALUES (?1, ?2, ?3, ?4, ?5)",
                    )
                    .and_then(|mut stmt| {
                        stmt.execute(params![
                            kv.key.as_bytes(),
                            kv.value,
                            kv.create_revision,
                            kv.mod_revision,
                            kv.version
                        ])
                    })
                    .map_err(|err| sqlite_error(&format!("writing key {key:?}"), err))?;
                self.record(WatchEventKind::Put, kv, prev.clone())?;
                Ok(OpResult::Put { prev })
            }
            Op::Delete { key } => {
                let prev = query::get(self.conn, key)?;
                if let Some(existing) = &prev {
                    self.remove(existing.clone())?;
                }
                Ok(OpResult::Delete { prev })
            }
            Op::DeletePrefix { prefix } => {
                let deleted = query::list(self.conn, prefix)?;
                for existing in &deleted {
                    self.remove(existing.clone())?;
                }
                Ok(OpResult::DeletePrefix { deleted })
            }
            Op::Get { key } => Ok(OpResult::Get(query::get(self.conn, key)?)),
        }
    }

    fn remove(&mut self, existing: KeyValue) -> Result<(), StoreError> {
        self.conn
            .prepare_cached("DELETE FROM kv WHERE key = ?1")
            .and_then(|mut stmt| stmt.execute([existing.key.as_bytes()]))
            .map_err(|err| sqlite_error(&format!("deleting key {:?}", existing.key), err))?;
        let tombstone = KeyValue {
            key: existing.key.clone(),
            value: Vec::new(),
            create_revision: 0,
            mod_revision: self.revision,
            version: 0,
        };
        self.record(WatchEventKind::Delete, tombstone, Some(existing))
    }

    fn record(
        &mut self,
        kind: WatchEventKind,
        kv: KeyValue,
        prev: Option<KeyValue>,
    ) -> Result<(), StoreError> {
        let seq = i64::try_from(self.events.len()).unwrap_or(i64::MAX);
        self.conn
            .prepare_cached(
                "INSERT INTO history \
                 (revision, seq, key, is_delete, value, create_revision, version, prev_revision) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )
            .and_then(|mut stmt| {
                stmt.execute(params![
                    self.revision,
                    seq,
                    kv.key.as_bytes(),
                    kind == WatchEventKind::Delete,
                    kv.value,
                    kv.create_revision,
                    kv.version,
                    prev.as_ref().map(|p| p.mod_revision),
                ])
            })
            .map_err(|err| sqlite_error(&format!("recording history of key {:?}", kv.key), err))?;
        self.events.push(WatchEvent { kind, kv, prev });
        Ok(())
    }
}

/// Discards history before `revision`, keeping for each key its last put
/// before it (needed as the `prev` of later events, as etcd does).
pub(crate) fn apply_compact(conn: &Connection, revision: Revision) -> Result<(), StoreError> {
    let current = query::meta(conn, "revision")?;
    if revision > current {
        return Err(StoreError::InvalidRequest(format!(
            "cannot compact to revision {revision}: the store is only at revision {current}"
        )));
    }
    let compacted = query::meta(conn, "compact_revision")?;
    if revision <= compacted {
        return Ok(());
    }
    conn.execute(
        "DELETE FROM history WHERE revision < ?1 AND (is_delete OR EXISTS (
             SELECT 1 FROM history newer
             WHERE newer.key = history.key
               AND newer.revision > history.revision AND newer.revision < ?1))",
        [revision],
    )
    .map_err(|err| sqlite_error(&format!("compacting history before {revision}"), err))?;
    conn.execute(
        "UPDATE meta SET value = ?1 WHERE name = 'compact_revision'",
        [revision],
    )
    .map_err(|err| sqlite_error("recording the compaction revision", err))?;
    Ok(())
}
