//! Mapping SQLite failures onto [`StoreError`].

use hangar_store::StoreError;
use rusqlite::ErrorCode;

/// Classifies a SQLite error: busy/locked is retryable, corruption is flagged
/// for the operator, everything else is a backend error. `doing` says what
/// the store was attempting, for the message.
pub(crate) fn sqlite_error(doing: &str, err: rusqlite::Error) -> StoreError {
    let code = match &err {
        rusqlite::Error::SqliteFailure(failure, _) => Some(failure.code),
        _ => None,
    };
    match code {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => StoreError::Unavailable(
            format!("{doing}: the database is locked by another writer ({err}); retry"),
        ),
        Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => StoreError::Corrupt(format!(
            "{doing}: {err}; restore the state database from a backup"
        )),
        Some(ErrorCode::DiskFull) => StoreError::Backend(format!(
            "{doing}: {err}; free disk space on the volume holding the state database"
        )),
        _ => StoreError::Backend(format!("{doing}: sqlite error: {err}")),
    }
}

/// Error for a store whose writer thread has stopped.
pub(crate) fn closed() -> StoreError {
    StoreError::Unavailable("the SQLite store has been closed".to_string())
}
