//! A small pool of read-only connections used from the blocking thread pool.

use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};

use hangar_store::StoreError;
use rusqlite::Connection;

use crate::error::sqlite_error;
use crate::schema::{open_connection, Role};

/// Idle connections kept for reuse; more may exist while busy.
const MAX_IDLE: usize = 8;

/// Read connections to one database file.
pub(crate) struct ReaderPool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl ReaderPool {
    pub(crate) fn new(path: PathBuf) -> Self {
        Self {
            path,
            idle: Mutex::new(Vec::new()),
        }
    }

    fn idle(&self) -> MutexGuard<'_, Vec<Connection>> {
        self.idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `read` inside one read transaction (a consistent snapshot).
    /// Blocking: call from `spawn_blocking`.
    pub(crate) fn read<T>(
        &self,
        read: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let pooled = self.idle().pop();
        let mut conn = match pooled {
            Some(conn) => conn,
            None => open_connection(&self.path, Role::Reader)?,
        };
        let result = {
            let tx = conn
                .transaction()
                .map_err(|err| sqlite_error("starting a read transaction", err))?;
            let result = read(&tx);
            tx.finish()
                .map_err(|err| sqlite_error("ending a read transaction", err))?;
            result
        };
        let mut idle = self.idle();
        if idle.len() < MAX_IDLE {
            idle.push(conn);
        }
        result
    }
}
