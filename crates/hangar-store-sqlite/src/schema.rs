//! Database layout, connection setup and schema creation.
//!
//! Tables:
//! - `meta(name, value)`: `revision` (current store revision),
//!   `compact_revision` (history before it is gone), `schema_version`.
//! - `kv`: the current state, one row per live key.
//! - `history`: one row per event (put or delete) per key per revision; the
//!   source of watch replay. `prev_revision` points at the key's previous
//!   history row (its mod revision before the event) to rebuild `prev`.
//!
//! Keys are stored as BLOBs so that ordering and prefix ranges are plain
//! byte comparisons.

use std::path::Path;
use std::time::Duration;

use hangar_store::StoreError;
use rusqlite::{Connection, OpenFlags};

use crate::error::sqlite_error;

/// Version of the layout below; bump with a migration when it changes.
const SCHEMA_VERSION: i64 = 1;

/// How long a connection waits on a lock held by another connection.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

const CREATE_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS kv (
    key             BLOB PRIMARY KEY,
    value           BLOB NOT NULL,
    create_revision INTEGER NOT NULL,
    mod_revision    INTEGER NOT NULL,
    version         INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS history (
    revision        INTEGER NOT NULL,
    seq             INTEGER NOT NULL,
    key             BLOB NOT NULL,
    is_delete       INTEGER NOT NULL,
    value           BLOB NOT NULL,
    create_revision INTEGER NOT NULL,
    version         INTEGER NOT NULL,
    prev_revision   INTEGER,
    PRIMARY KEY (revision, seq)
) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS history_by_key ON history (key, revision);
INSERT OR IGNORE INTO meta (name, value) VALUES ('revision', 0);
INSERT OR IGNORE INTO meta (name, value) VALUES ('compact_revision', 0);
";

/// Which pragmas a connection gets.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// The single connection that writes: WAL, fsync on every commit.
    Writer,
    /// Read-only snapshot readers.
    Reader,
}

/// Opens a connection to the database at `path` configured for `role`.
pub(crate) fn open_connection(path: &Path, role: Role) -> Result<Connection, StoreError> {
    let flags = match role {
        Role::Writer => OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE,
        Role::Reader => OpenFlags::SQLITE_OPEN_READ_WRITE,
    } | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(|err| {
        sqlite_error(
            &format!(
                "opening state database {} (check that its directory exists and is writable)",
                path.display()
            ),
            err,
        )
    })?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(|err| sqlite_error("setting busy timeout", err))?;
    let pragmas = match role {
        Role::Writer => {
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = OFF;"
        }
        Role::Reader => "PRAGMA query_only = ON;",
    };
    conn.execute_batch(pragmas)
        .map_err(|err| sqlite_error("configuring the state database connection", err))?;
    Ok(conn)
}

/// Creates the tables if missing and checks the schema version.
pub(crate) fn migrate(conn: &Connection) -> Result<(), StoreError> {
    conn.execute_batch(CREATE_SCHEMA)
        .map_err(|err| sqlite_error("creating the state database schema", err))?;
    let version: Option<i64> = conn
        .query_row(
            "SELECT value FROM meta WHERE name = 'schema_version'",
            [],
            |row| row.get(0),
        )
        .map(Some)
        .or_else(|err| match err {
            rusqlite::Error::QueryReturnedNoRows => Ok(None),
            other => Err(other),
        })
        .map_err(|err| sqlite_error("reading the schema version", err))?;
    match version {
        None => {
            conn.execute(
                "INSERT INTO meta (name, value) VALUES ('schema_version', ?1)",
                [SCHEMA_VERSION],
            )
            .map_err(|err| sqlite_error("recording the schema version", err))?;
            Ok(())
        }
        Some(SCHEMA_VERSION) => Ok(()),
        Some(other) => Err(StoreError::Corrupt(format!(
            "state database has schema version {other}, this build understands \
             {SCHEMA_VERSION}; run a matching Hangar version"
        ))),
    }
}
