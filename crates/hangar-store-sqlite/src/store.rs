//! [`SqliteStore`]: the [`Store`] implementation.

use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;

use hangar_store::{
    KeyValue, ListResult, Op, OpResult, Revision, Store, StoreError, Txn, TxnResponse, WatchStream,
};
use rusqlite::Connection;
use tokio::sync::oneshot;

use crate::error::closed;
use crate::hub::WatchHub;
use crate::lock::DatabaseLock;
use crate::query;
use crate::readers::ReaderPool;
use crate::schema::{migrate, open_connection, Role};
use crate::watch::{watch_stream, WatchStart};
use crate::writer::{self, AutoCompact, WriteRequest};

/// Tuning knobs for [`SqliteStore::open_with`].
#[derive(Debug, Clone)]
pub struct SqliteStoreOptions {
    /// How many committed revisions a watcher may have queued before it is
    /// disconnected with [`StoreError::WatchLagged`] (default 1024).
    pub watch_buffer_revisions: usize,
    /// Automatic compaction: keep at least this many revisions of history
    /// (default 100 000; None keeps everything until [`Store::compact`]).
    /// Checked after every `history_retention / 10` revisions (at least 1).
    pub history_retention: Option<Revision>,
}

impl Default for SqliteStoreOptions {
    fn default() -> Self {
        Self {
            watch_buffer_revisions: 1024,
            history_retention: Some(100_000),
        }
    }
}

/// The embedded state store: one SQLite database file in WAL mode with
/// `synchronous = FULL`, so every acknowledged write survives a crash or
/// `kill -9`.
///
/// Writes are serialized through one connection on a dedicated thread (with
/// group commit); reads run on pooled read-only connections. Only one
/// `SqliteStore` can have a database open at a time (an exclusive lock on
/// `<path>.lock` enforces it), because watchers are fed in-process.
///
/// Dropping the store finishes queued writes, closes the database and ends
/// open watch streams with [`StoreError::Unavailable`].
pub struct SqliteStore {
    path: PathBuf,
    writer: Option<mpsc::Sender<WriteRequest>>,
    writer_thread: Option<JoinHandle<()>>,
    readers: Arc<ReaderPool>,
    hub: Arc<WatchHub>,
    options: SqliteStoreOptions,
    /// Released last, after the writer has closed the database.
    lock: Option<DatabaseLock>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` with default options.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        Self::open_with(path, SqliteStoreOptions::default())
    }

    /// Opens (creating if needed) the database at `path`.
    pub fn open_with(path: &Path, options: SqliteStoreOptions) -> Result<SqliteStore, StoreError> {
        let lock = DatabaseLock::acquire(path)?;
        let conn: Connection = open_connection(path, Role::Writer)?;
        migrate(&conn)?;
        let hub = Arc::new(WatchHub::default());
        let (sender, requests) = mpsc::channel();
        let thread_hub = hub.clone();
        let auto_compact = options.history_retention.map(|retain| AutoCompact {
            retain: retain.max(0),
            every: (retain / 10).max(1),
        });
        let writer_thread = std::thread::Builder::new()
            .name("hangar-store-writer".to_string())
            .spawn(move || writer::run(conn, requests, thread_hub, auto_compact))
            .map_err(|err| {
                StoreError::Backend(format!("cannot start the store writer thread: {err}"))
            })?;
        Ok(SqliteStore {
            path: path.to_path_buf(),
            writer: Some(sender),
            writer_thread: Some(writer_thread),
            readers: Arc::new(ReaderPool::new(path.to_path_buf())),
            hub,
            options,
            lock: Some(lock),
        })
    }

    /// The database file this store uses.
    pub fn path(&self) -> &Path {
        &self.path
    }

    async fn send<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, StoreError>>) -> WriteRequest,
    ) -> Result<T, StoreError> {
        let (reply, answer) = oneshot::channel();
        let writer = self.writer.as_ref().ok_or_else(closed)?;
        writer.send(make(reply)).map_err(|_| closed())?;
        answer.await.map_err(|_| closed())?
    }

    async fn read<T: Send + 'static>(
        &self,
        read: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let readers = self.readers.clone();
        tokio::task::spawn_blocking(move || readers.read(read))
            .await
            .map_err(|err| StoreError::Backend(format!("store read task failed: {err}")))?
    }

    async fn write_one(&self, op: Op) -> Result<(Revision, OpResult), StoreError> {
        let mut response = self.txn(Txn::new().then(op)).await?;
        match response.results.pop() {
            Some(result) => Ok((response.revision, result)),
            None => Err(StoreError::Corrupt(
                "writer answered a single-op transaction with no result".to_string(),
            )),
        }
    }
}

#[async_trait::async_trait]
impl Store for SqliteStore {
    async fn get(&self, key: &str) -> Result<Option<KeyValue>, StoreError> {
        let key = key.to_string();
        self.read(move |conn| query::get(conn, &key)).await
    }

    async fn list(&self, prefix: &str) -> Result<ListResult, StoreError> {
        let prefix = prefix.to_string();
        self.read(move |conn| {
            let revision = query::meta(conn, "revision")?;
            let kvs = query::list(conn, &prefix)?;
            Ok(ListResult { kvs, revision })
        })
        .await
    }

    async fn put(&self, key: &str, value: Vec<u8>) -> Result<Revision, StoreError> {
        let (revision, _) = self.write_one(Op::put(key, value)).await?;
        Ok(revision)
    }

    async fn delete(&self, key: &str) -> Result<Option<Revision>, StoreError> {
        match self.write_one(Op::delete(key)).await? {
            (revision, OpResult::Delete { prev: Some(_) }) => Ok(Some(revision)),
            (_, OpResult::Delete { prev: None }) => Ok(None),
            (_, other) => Err(StoreError::Corrupt(format!(
                "writer answered a delete with {other:?}"
            ))),
        }
    }

    async fn txn(&self, txn: Txn) -> Result<TxnResponse, StoreError> {
        txn.validate()?;
        self.send(|reply| WriteRequest::Txn { txn, reply }).await
    }

    async fn watch(
        &self,
        prefix: &str,
        from_revision: Revision,
    ) -> Result<WatchStream, StoreError> {
        if from_revision < 0 {
            return Err(StoreError::InvalidRequest(format!(
                "cannot watch from negative revision {from_revision}; use 0 for \"from now\""
            )));
        }
        // Subscribe before reading the snapshot revision: see `watch` module.
        let subscription = self
            .hub
            .subscribe(prefix, self.options.watch_buffer_revisions)
            .ok_or_else(closed)?;
        let (snapshot_revision, compact_revision) = self
            .read(|conn| {
                Ok((
                    query::meta(conn, "revision")?,
                    query::meta(conn, "compact_revision")?,
                ))
            })
            .await?;
        let from_revision = if from_revision == 0 {
            snapshot_revision + 1
        } else {
            from_revision
        };
        if from_revision < compact_revision {
            return Err(StoreError::Compacted { compact_revision });
        }
        let start = WatchStart {
            snapshot_revision,
            from_revision,
        };
        Ok(watch_stream(
            self.readers.clone(),
            prefix.to_string(),
            subscription,
            start,
        ))
    }

    async fn compact(&self, revision: Revision) -> Result<(), StoreError> {
        self.send(|reply| WriteRequest::Compact { revision, reply })
            .await
    }

    async fn current_revision(&self) -> Result<Revision, StoreError> {
        self.read(|conn| query::meta(conn, "revision")).await
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        // Closing the request channel lets the writer drain and exit.
        self.writer.take();
        if let Some(thread) = self.writer_thread.take() {
            if thread.join().is_err() {
                tracing::error!(path = %self.path.display(), "store writer thread panicked");
            }
        }
        self.lock.take();
    }
}
