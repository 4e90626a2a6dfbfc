//! Read queries shared by the writer (inside its transaction) and readers.

use hangar_store::{KeyValue, Revision, StoreError, WatchEvent, WatchEventKind};
use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::error::sqlite_error;

/// Byte range `[lower, upper)` covering every key under `prefix`; `upper` is
/// None when the range is unbounded (empty prefix).
pub(crate) fn prefix_range(prefix: &str) -> (Vec<u8>, Option<Vec<u8>>) {
    let lower = prefix.as_bytes().to_vec();
    let mut upper = lower.clone();
    while let Some(last) = upper.pop() {
        if last < u8::MAX {
            upper.push(last + 1);
            return (lower, Some(upper));
        }
    }
    (lower, None)
}

fn key_from_blob(blob: Vec<u8>) -> Result<String, StoreError> {
    String::from_utf8(blob)
        .map_err(|err| StoreError::Corrupt(format!("stored key is not valid UTF-8: {err}")))
}

/// Raw columns of a `kv` row before the key is checked as UTF-8.
type KvColumns = (Vec<u8>, Vec<u8>, i64, i64, i64);

fn kv_columns(row: &Row<'_>) -> rusqlite::Result<KvColumns> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
    ))
}

fn kv_from_columns(columns: KvColumns) -> Result<KeyValue, StoreError> {
    let (key, value, create_revision, mod_revision, version) = columns;
    Ok(KeyValue {
        key: key_from_blob(key)?,
        value,
        create_revision,
        mod_revision,
        version,
    })
}

/// A `meta` counter (`revision`, `compact_revision`).
pub(crate) fn meta(conn: &Connection, name: &str) -> Result<Revision, StoreError> {
    conn.prepare_cached("SELECT value FROM meta WHERE name = ?1")
        .and_then(|mut stmt| stmt.query_row([name], |row| row.get(0)))
        .map_err(|err| sqlite_error(&format!("reading store {name}"), err))
}

/// The current state of `key`.
pub(crate) fn get(conn: &Connection, key: &str) -> Result<Option<KeyValue>, StoreError> {
    let columns = conn
        .prepare_cached(
            "SELECT key, value, create_revision, mod_revision, version FROM kv WHERE key = ?1",
        )
        .and_then(|mut stmt| stmt.query_row([key.as_bytes()], kv_columns).optional())
        .map_err(|err| sqlite_error(&format!("reading key {key:?}"), err))?;
    columns.map(kv_from_columns).transpose()
}

/// Every live key under `prefix`, ordered by key.
pub(crate) fn list(conn: &Connection, prefix: &str) -> Result<Vec<KeyValue>, StoreError> {
    let (lower, upper) = prefix_range(prefix);
    let doing = || format!("listing prefix {prefix:?}");
    let rows: Vec<KvColumns> = match upper {
        Some(upper) => conn
            .prepare_cached(
                "SELECT key, value, create_revision, mod_revision, version FROM kv \
                 WHERE key >= ?1 AND key < ?2 ORDER BY key",
            )
            .and_then(|mut stmt| stmt.query_map(params![lower, upper], kv_columns)?.collect()),
        None => conn
            .prepare_cached(
                "SELECT key, value, create_revision, mod_revision, version FROM kv \
                 WHERE key >= ?1 ORDER BY key",
            )
            .and_then(|mut stmt| stmt.query_map(params![lower], kv_columns)?.collect()),
    }
    .map_err(|err| sqlite_error(&doing(), err))?;
    rows.into_iter().map(kv_from_columns).collect()
}

/// Position of an event in history: revision, then order within it.
pub(crate) type HistoryCursor = (Revision, i64);

/// Raw columns of a history row joined with its previous row.
struct HistoryColumns {
    revision: Revision,
    seq: i64,
    key: Vec<u8>,
    is_delete: bool,
    value: Vec<u8>,
    create_revision: Revision,
    version: i64,
    prev: Option<(Vec<u8>, Revision, Revision, i64)>,
}

fn history_columns(row: &Row<'_>) -> rusqlite::Result<HistoryColumns> {
    let prev_mod_revision: Option<Revision> = row.get(9)?;
    let prev = match prev_mod_revision {
        Some(mod_revision) => Some((row.get(7)?, row.get(8)?, mod_revision, row.get(10)?)),
        None => None,
    };
    Ok(HistoryColumns {
        revision: row.get(0)?,
        seq: row.get(1)?,
        key: row.get(2)?,
        is_delete: row.get(3)?,
        value: row.get(4)?,
        create_revision: row.get(5)?,
        version: row.get(6)?,
        prev,
    })
}

fn event_from_columns(columns: HistoryColumns) -> Result<(HistoryCursor, WatchEvent), StoreError> {
    let key = key_from_blob(columns.key)?;
    let prev = columns
        .prev
        .map(|(value, create_revision, mod_revision, version)| KeyValue {
            key: key.clone(),
            value,
            create_revision,
            mod_revision,
            version,
        });
    let kind = if columns.is_delete {
        WatchEventKind::Delete
    } else {
        WatchEventKind::Put
    };
    let kv = KeyValue {
        key,
        value: columns.value,
        create_revision: columns.create_revision,
        mod_revision: columns.revision,
        version: columns.version,
    };
    Ok((
        (columns.revision, columns.seq),
        WatchEvent { kind, kv, prev },
    ))
}

/// Up to `limit` events on keys under `prefix`, strictly after `after` and at
/// or before revision `upto`, in history order.
pub(crate) fn history_page(
    conn: &Connection,
    prefix: &str,
    after: HistoryCursor,
    upto: Revision,
    limit: usize,
) -> Result<Vec<(HistoryCursor, WatchEvent)>, StoreError> {
    let (lower, upper) = prefix_range(prefix);
    // An unbounded prefix gets an upper bound no UTF-8 key can reach.
    let upper = upper.unwrap_or_else(|| vec![u8::MAX; 1]);
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows: Vec<HistoryColumns> = conn
        .prepare_cached(
            "SELECT h.revision, h.seq, h.key, h.is_delete, h.value, h.create_revision, h.version,
                    p.value, p.create_revision, p.revision, p.version
             FROM history h
             LEFT JOIN history p ON p.key = h.key AND p.revision = h.prev_revision
             WHERE (h.revision, h.seq) > (?1, ?2) AND h.revision <= ?3
               AND h.key >= ?4 AND h.key < ?5
             ORDER BY h.revision, h.seq
             LIMIT ?6",
        )
        .and_then(|mut stmt| {
            stmt.query_map(
                params![after.0, after.1, upto, lower, upper, limit],
                history_columns,
            )?
            .collect()
        })
        .map_err(|err| sqlite_error(&format!("reading watch history of {prefix:?}"), err))?;
    rows.into_iter().map(event_from_columns).collect()
}

#[cfg(test)]
mod tests {
    use super::prefix_range;

    #[test]
    fn prefix_range_bounds_exactly_the_prefix() {
        assert_eq!(
            prefix_range("/a/"),
            (b"/a/".to_vec(), Some(b"/a0".to_vec()))
        );
        assert_eq!(prefix_range(""), (Vec::new(), None));
        // The last byte of a UTF-8 prefix is never 0xFF, but carry anyway.
        let (lower, upper) = prefix_range("\u{e9}");
        assert_eq!(lower, vec![0xC3, 0xA9]);
        assert_eq!(upper, Some(vec![0xC3, 0xAA]));
    }
}
