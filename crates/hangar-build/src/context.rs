//! The build context: walking it with `.dockerignore` applied, its size, and
//! the tar sent to a Docker daemon.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::dockerignore::IgnoreRules;
use crate::error::BuildError;

/// A file or directory of the context that the build may see.
#[derive(Debug, Clone)]
pub(crate) struct ContextEntry {
    /// Relative, `/`-separated.
    pub relative: String,
    pub path: PathBuf,
    pub metadata: fs::Metadata,
}

/// Loads the context's `.dockerignore`.
pub(crate) fn rules(context: &Path) -> Result<IgnoreRules, BuildError> {
    IgnoreRules::load(context).map_err(BuildError::io(format!(
        "reading {}",
        context.join(".dockerignore").display()
    )))
}

/// Every visible entry below `dir` (relative to `context`), in name order,
/// parents before children. Symlinks are listed, not followed.
pub(crate) fn walk(
    context: &Path,
    dir_relative: &str,
    rules: &IgnoreRules,
) -> Result<Vec<ContextEntry>, BuildError> {
    let mut out = Vec::new();
    walk_into(context, dir_relative, rules, &mut out).map_err(BuildError::io(format!(
        "reading the build context {}",
        context.display()
    )))?;
    Ok(out)
}

fn walk_into(
    context: &Path,
    dir_relative: &str,
    rules: &IgnoreRules,
    out: &mut Vec<ContextEntry>,
) -> io::Result<()> {
    let dir = context.join(dir_relative);
    let mut names: Vec<_> = fs::read_dir(&dir)?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<io::Result<_>>()?;
    names.sort();
    for name in names {
        let name = name.to_string_lossy().into_owned();
        let relative = if dir_relative.is_empty() {
            name.clone()
        } else {
            format!("{dir_relative}/{name}")
        };
        let path = dir.join(&name);
        let metadata = fs::symlink_metadata(&path)?;
        let excluded = rules.is_excluded(&relative);
        if metadata.is_dir() {
            if excluded && !rules.has_exceptions() {
                continue;
            }
            let before = out.len();
            if !excluded {
                out.push(ContextEntry {
                    relative: relative.clone(),
                    path: path.clone(),
                    metadata,
                });
            }
            walk_into(context, &relative, rules, out)?;
            if excluded && out.len() > before {
                // An exception re-included something inside: keep its parent.
                let metadata = fs::symlink_metadata(&path)?;
                out.insert(
                    before,
                    ContextEntry {
                        relative,
                        path,
                        metadata,
                    },
                );
            }
        } else if !excluded {
            out.push(ContextEntry {
                relative,
                path,
                metadata,
            });
        }
    }
    Ok(())
}

/// Fails with [`BuildError::ContextTooLarge`] when the visible files of
/// `context` add up to more than `limit` bytes. Stops counting at the limit.
pub(crate) fn check_size(context: &Path, limit: u64) -> Result<(), BuildError> {
    let rules = rules(context)?;
    let mut size = 0u64;
    for entry in walk(context, "", &rules)? {
        if entry.metadata.is_file() {
            size += entry.metadata.len();
        }
        if size > limit {
            let total = total_size(&walk(context, "", &rules)?);
            return Err(BuildError::ContextTooLarge {
                context: context.to_path_buf(),
                size: total,
                limit,
            });
        }
    }
    Ok(())
}

fn total_size(entries: &[ContextEntry]) -> u64 {
    entries
        .iter()
        .filter(|e| e.metadata.is_file())
        .map(|e| e.metadata.len())
        .sum()
}

/// The context as an uncompressed tar (what Docker's `/build` takes), with
/// the Dockerfile added as `dockerfile_name` when it lives outside the context.
pub(crate) fn tar(
    context: &Path,
    extra_dockerfile: Option<(&Path, &str)>,
) -> Result<Vec<u8>, BuildError> {
    let rules = rules(context)?;
    let entries = walk(context, "", &rules)?;
    let mut builder = tar::Builder::new(Vec::new());
    builder.follow_symlinks(false);
    let result = (|| -> io::Result<()> {
        for entry in &entries {
            builder.append_path_with_name(&entry.path, &entry.relative)?;
        }
        // The Dockerfile and .dockerignore always reach the daemon.
        for name in [".dockerignore", "Dockerfile"] {
            let path = context.join(name);
            if rules.is_excluded(name) && path.is_file() {
                builder.append_path_with_name(&path, name)?;
            }
        }
        if let Some((path, name)) = extra_dockerfile {
            builder.append_path_with_name(path, name)?;
        }
        builder.finish()
    })();
    result.map_err(BuildError::io(format!(
        "packing the build context {}",
        context.display()
    )))?;
    builder
        .into_inner()
        .map_err(BuildError::io("packing the build context"))
}
