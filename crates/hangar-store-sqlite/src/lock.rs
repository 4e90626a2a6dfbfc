//! One process (one `SqliteStore`) per database file.
//!
//! Watchers are fed in-process, so a second writer on the same file would
//! make the first one's watchers silently miss events. An exclusive `flock`
//! on a lock file beside the database prevents that; the kernel drops it when
//! the holder exits, even by SIGKILL. A separate file is used because opening
//! and closing the database file itself would release SQLite's own POSIX locks.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use hangar_store::StoreError;
use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

/// Held for as long as the store is open; released on drop.
pub(crate) struct DatabaseLock {
    _lock: Flock<File>,
}

/// The lock file used for the database at `db_path`.
pub(crate) fn lock_path(db_path: &Path) -> PathBuf {
    let mut name = db_path.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

impl DatabaseLock {
    /// Takes the lock for `db_path` or explains who holds it.
    pub(crate) fn acquire(db_path: &Path) -> Result<DatabaseLock, StoreError> {
        let path = lock_path(db_path);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|err| {
                StoreError::Backend(format!(
                    "cannot create lock file {} for the state database \
                     (check that its directory exists and is writable): {err}",
                    path.display()
                ))
            })?;
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => Ok(DatabaseLock { _lock: lock }),
            Err((_, Errno::EWOULDBLOCK)) => Err(StoreError::Unavailable(format!(
                "state database {} is already open by another store (lock {} is held); \
                 stop the other Hangar process or use a different data directory",
                db_path.display(),
                path.display()
            ))),
            Err((_, errno)) => Err(StoreError::Backend(format!(
                "cannot lock {}: {errno}",
                path.display()
            ))),
        }
    }
}
