//! A read-only view of a stage's root filesystem without assembling it:
//! entries added by this build's layers over the base image's unpacked
//! layers. Used for `COPY --from`, `--chown` names and "does it exist".

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::PathBuf;

use crate::layout::{Content, Entry, LayerEntries};

/// A stage's files.
#[derive(Debug, Clone, Default)]
pub(crate) struct FsView {
    /// Base directories, bottom first (unpacked image layers, or `/` for `FROM host`).
    pub lowers: Vec<PathBuf>,
    /// Entries this build added, later layers overwriting earlier ones.
    pub added: LayerEntries,
}

impl FsView {
    /// Records a layer's entries on top.
    pub(crate) fn add(&mut self, entries: &LayerEntries) {
        for (path, entry) in entries {
            self.added.insert(path.clone(), entry.clone());
        }
    }

    /// The entry at `path` (relative, `/`-separated), without following a
    /// final symlink.
    pub(crate) fn lookup(&self, path: &str) -> Option<Entry> {
        if path.is_empty() {
            return Some(dir_entry());
        }
        if let Some(entry) = self.added.get(path) {
            return Some(entry.clone());
        }
        for lower in self.lowers.iter().rev() {
            let real = lower.join(path);
            let Ok(meta) = fs::symlink_metadata(&real) else {
                continue;
            };
            if meta.file_type().is_char_device() && meta.rdev() == 0 {
                return None; // an overlay whiteout
            }
            let content = if meta.is_dir() {
                Content::Dir
            } else if meta.file_type().is_symlink() {
                Content::Symlink(fs::read_link(&real).ok()?)
            } else if meta.is_file() {
                Content::File(real)
            } else {
                continue;
            };
            return Some(Entry {
                content,
                mode: meta.mode() & 0o7777,
                uid: u64::from(meta.uid()),
                gid: u64::from(meta.gid()),
            });
        }
        None
    }

    /// True when `path` is a directory.
    pub(crate) fn is_dir(&self, path: &str) -> bool {
        matches!(
            self.lookup(path),
            Some(Entry {
                content: Content::Dir,
                ..
            })
        )
    }

    /// The names directly inside directory `path`, sorted.
    pub(crate) fn children(&self, path: &str) -> Vec<String> {
        let mut names = BTreeSet::new();
        let prefix = if path.is_empty() {
            String::new()
        } else {
            format!("{path}/")
        };
        for key in self.added.keys() {
            if let Some(rest) = key.strip_prefix(&prefix) {
                if let Some(first) = rest.split('/').next().filter(|f| !f.is_empty()) {
                    names.insert(first.to_owned());
                }
            }
        }
        for lower in &self.lowers {
            if let Ok(dir) = fs::read_dir(lower.join(path)) {
                names.extend(
                    dir.flatten()
                        .map(|e| e.file_name().to_string_lossy().into_owned()),
                );
            }
        }
        names
            .into_iter()
            .filter(|n| self.lookup(&join(path, n)).is_some())
            .collect()
    }

    /// The contents of regular file `path`, if there is one.
    pub(crate) fn read(&self, path: &str) -> Option<Vec<u8>> {
        match self.lookup(path)?.content {
            Content::File(real) => fs::read(real).ok(),
            Content::Bytes(bytes) => Some(bytes.to_vec()),
            _ => None,
        }
    }

    /// Everything at and below `path`, keyed by path relative to `path`
    /// (`""` for `path` itself).
    pub(crate) fn subtree(&self, path: &str) -> LayerEntries {
        let mut out = LayerEntries::new();
        let mut pending = vec![String::new()];
        while let Some(relative) = pending.pop() {
            let full = join(path, &relative);
            let Some(entry) = self.lookup(&full) else {
                continue;
            };
            if matches!(entry.content, Content::Dir) {
                for child in self.children(&full) {
                    pending.push(join(&relative, &child));
                }
            }
            out.insert(relative, entry);
        }
        out
    }
}

fn dir_entry() -> Entry {
    Entry {
        content: Content::Dir,
        mode: 0o755,
        uid: 0,
        gid: 0,
    }
}

/// `a/b` from `a` and `b`, either possibly empty.
pub(crate) fn join(a: &str, b: &str) -> String {
    match (a.is_empty(), b.is_empty()) {
        (true, _) => b.to_owned(),
        (_, true) => a.to_owned(),
        _ => format!("{a}/{b}"),
    }
}
