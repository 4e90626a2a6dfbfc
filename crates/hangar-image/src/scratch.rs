//! Scratch paths under the store's `tmp/` directory, removed when dropped.
//!
//! Names start with the creating process id so that [`sweep`] can tell leftovers of
//! dead processes (killed mid-unpack) from work in progress of live ones.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A path that is deleted (recursively) on drop unless [`ScratchPath::keep`] is called.
pub(crate) struct ScratchPath {
    path: PathBuf,
    armed: bool,
}

impl ScratchPath {
    /// A fresh, not yet existing path in `tmp_dir` whose name mentions `purpose`.
    pub(crate) fn new(tmp_dir: &Path, purpose: &str) -> ScratchPath {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        ScratchPath {
            path: tmp_dir.join(format!("{}-{n}-{purpose}", std::process::id())),
            armed: true,
        }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Leaves the path alone on drop (it was renamed into place).
    pub(crate) fn keep(mut self) {
        self.armed = false;
    }
}

impl Drop for ScratchPath {
    fn drop(&mut self) {
        if self.armed {
            remove_any(&self.path);
        }
    }
}

fn remove_any(path: &Path) {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => {
            let _ = fs::remove_dir_all(path);
        }
        Ok(_) => {
            let _ = fs::remove_file(path);
        }
        Err(_) => {}
    }
}

/// Removes scratch entries whose creating process is gone.
pub(crate) fn sweep(tmp_dir: &Path) {
    let Ok(entries) = fs::read_dir(tmp_dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let pid = name
            .to_str()
            .and_then(|n| n.split('-').next())
            .and_then(|p| p.parse::<u32>().ok());
        let alive = pid.is_some_and(|pid| Path::new(&format!("/proc/{pid}")).exists());
        if !alive {
            tracing::debug!(path = %entry.path().display(), "removing leftover scratch path");
            remove_any(&entry.path());
        }
    }
}
