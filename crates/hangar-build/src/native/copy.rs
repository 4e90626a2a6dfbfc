//! COPY and ADD: which files go where, with which owner and mode.

use std::fs;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path};
use std::sync::Arc;

use super::fsview::{join, FsView};
use crate::context::{self, ContextEntry};
use crate::dockerignore::{glob_path, IgnoreRules};
use crate::layout::{Content, Entry, LayerEntries};

/// Where COPY reads from.
pub(crate) enum Source<'a> {
    Context {
        dir: &'a Path,
        rules: &'a IgnoreRules,
    },
    Stage(&'a FsView),
}

/// A parsed COPY/ADD.
pub(crate) struct CopyPlan<'a> {
    pub sources: Vec<String>,
    /// Absolute destination inside the image.
    pub dest: String,
    pub owner: Option<(u64, u64)>,
    pub chmod: Option<u32>,
    /// ADD: extract local tar archives.
    pub extract: bool,
    pub from: Source<'a>,
}

/// The layer a COPY/ADD produces, given the stage's files `view`.
pub(crate) fn plan_entries(plan: &CopyPlan<'_>, view: &FsView) -> Result<LayerEntries, String> {
    let dest = clean(&plan.dest).ok_or("the destination must not leave the image root")?;
    let dest_is_dir = plan.dest.ends_with('/')
        || plan.dest.ends_with("/.")
        || plan.sources.len() > 1
        || view.is_dir(&dest)
        || plan.sources.iter().any(|s| has_glob(s));
    let (uid, gid) = plan.owner.unwrap_or((0, 0));
    let mut out = LayerEntries::new();
    let from_stage = matches!(plan.from, Source::Stage(_));
    let mut put = |path: String, mut entry: Entry, keep_owner: bool| {
        if path.is_empty() {
            return; // the image root itself
        }
        if !(keep_owner || from_stage) || plan.owner.is_some() {
            entry.uid = uid;
            entry.gid = gid;
        }
        if let Some(mode) = plan.chmod {
            if !matches!(entry.content, Content::Symlink(_)) {
                entry.mode = mode;
            }
        }
        out.insert(path, entry);
    };
    for source in &plan.sources {
        let matches = find_sources(&plan.from, source)?;
        if matches.is_empty() {
            return Err(format!(
                "{source:?} not found in the build context (or excluded by .dockerignore)"
            ));
        }
        for (name, tree) in matches {
            let root = tree.get("").cloned().ok_or("source vanished")?;
            match root.content {
                Content::Dir => {
                    for (relative, entry) in tree {
                        if relative.is_empty() && view.is_dir(&dest) {
                            continue; // an existing directory keeps its owner and mode
                        }
                        put(join(&dest, &relative), entry, false);
                    }
                }
                Content::File(ref path) if plan.extract && is_archive(path) => {
                    for (relative, entry) in extract(path)? {
                        put(join(&dest, &relative), entry, true);
                    }
                }
                _ => {
                    let target = if dest_is_dir {
                        join(&dest, &name)
                    } else {
                        dest.clone()
                    };
                    put(target, root, false);
                }
            }
        }
    }
    // Missing parent directories are created, owned like the files.
    let paths: Vec<String> = out.keys().cloned().collect();
    for path in paths {
        let mut parent = Path::new(&path).parent();
        while let Some(p) = parent.filter(|p| !p.as_os_str().is_empty()) {
            let p_str = p.to_string_lossy().into_owned();
            if !out.contains_key(&p_str) && view.lookup(&p_str).is_none() {
                let entry = Entry {
                    content: Content::Dir,
                    mode: 0o755,
                    uid,
                    gid,
                };
                out.insert(p_str, entry);
            }
            parent = p.parent();
        }
    }
    Ok(out)
}

fn has_glob(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// Normalises an image or context path: relative, no `.`/`..`; `None` when it
/// climbs out of its root.
pub(crate) fn clean(path: &str) -> Option<String> {
    let mut parts: Vec<String> = Vec::new();
    for component in Path::new(path).components() {
        match component {
            Component::Normal(name) => parts.push(name.to_string_lossy().into_owned()),
            Component::ParentDir => {
                parts.pop()?;
            }
            _ => {}
        }
    }
    Some(parts.join("/"))
}

/// The sources a COPY argument names, each as (base name, subtree).
fn find_sources(from: &Source<'_>, source: &str) -> Result<Vec<(String, LayerEntries)>, String> {
    let relative =
        clean(source).ok_or_else(|| format!("{source:?} points outside the build context"))?;
    let candidates: Vec<String> = if has_glob(&relative) {
        match from {
            Source::Context { dir, rules } => context::walk(dir, "", rules)
                .map_err(|e| e.to_string())?
                .into_iter()
                .map(|e| e.relative)
                .filter(|p| glob_path(&relative, p))
                .collect(),
            Source::Stage(view) => glob_in_view(view, &relative),
        }
    } else {
        vec![relative]
    };
    let mut out = Vec::new();
    for path in candidates {
        let name = path.rsplit('/').next().unwrap_or("").to_owned();
        let tree = match from {
            Source::Context { dir, rules } => context_subtree(dir, rules, &path)?,
            Source::Stage(view) => view.subtree(&path),
        };
        if !tree.is_empty() {
            out.push((name, tree));
        }
    }
    Ok(out)
}

fn glob_in_view(view: &FsView, pattern: &str) -> Vec<String> {
    let mut found = vec![String::new()];
    for component in pattern.split('/') {
        found = found
            .iter()
            .flat_map(|dir| {
                view.children(dir)
                    .into_iter()
                    .filter(|name| glob_path(component, name))
                    .map(|name| join(dir, &name))
                    .collect::<Vec<_>>()
            })
            .collect();
    }
    found
}

/// A context path and what is below it; empty when missing or ignored.
fn context_subtree(
    dir: &Path,
    rules: &IgnoreRules,
    relative: &str,
) -> Result<LayerEntries, String> {
    let mut out = LayerEntries::new();
    if !relative.is_empty() && rules.is_excluded(relative) && !rules.has_exceptions() {
        return Ok(out);
    }
    let path = dir.join(relative);
    // The named source itself is followed if it is a symlink, within the context.
    let Ok(meta) = fs::metadata(&path) else {
        return Ok(out);
    };
    let real = fs::canonicalize(&path).map_err(|e| format!("{relative}: {e}"))?;
    let root = fs::canonicalize(dir).map_err(|e| e.to_string())?;
    if !real.starts_with(&root) {
        return Err(format!("{relative:?} points outside the build context"));
    }
    if meta.is_dir() {
        out.insert(String::new(), from_metadata(&real, &meta)?);
        let below = context::walk(dir, relative, rules).map_err(|e| e.to_string())?;
        for ContextEntry {
            relative: r,
            path,
            metadata,
        } in below
        {
            let inner = r
                .strip_prefix(relative)
                .map(|s| s.trim_start_matches('/').to_owned())
                .unwrap_or(r);
            out.insert(inner, from_metadata(&path, &metadata)?);
        }
    } else if !rules.is_excluded(relative) {
        out.insert(String::new(), from_metadata(&real, &meta)?);
    }
    Ok(out)
}

fn from_metadata(path: &Path, meta: &fs::Metadata) -> Result<Entry, String> {
    let content = if meta.file_type().is_symlink() {
        Content::Symlink(fs::read_link(path).map_err(|e| e.to_string())?)
    } else if meta.is_dir() {
        Content::Dir
    } else if meta.is_file() {
        Content::File(path.to_path_buf())
    } else {
        return Err(format!(
            "{} is not a regular file, directory or symlink",
            path.display()
        ));
    };
    Ok(Entry {
        content,
        mode: meta.mode() & 0o7777,
        uid: u64::from(meta.uid()),
        gid: u64::from(meta.gid()),
    })
}

/// How a local archive is compressed, told by its first bytes as Docker does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Compression {
    None,
    Gzip,
    Bzip2,
    Xz,
}

impl Compression {
    fn of(head: &[u8]) -> Option<Compression> {
        if head.starts_with(&[0x1f, 0x8b]) {
            Some(Compression::Gzip)
        } else if head.starts_with(b"BZh") {
            Some(Compression::Bzip2)
        } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
            Some(Compression::Xz)
        } else if head.len() >= 262 && &head[257..262] == b"ustar" {
            Some(Compression::None)
        } else {
            None
        }
    }
}

/// The compression of `path` if it is a tar archive ADD extracts (plain,
/// gzip, bzip2 or xz); `None` for any other file, which ADD copies as is.
fn archive_compression(path: &Path) -> Option<Compression> {
    let mut head = [0u8; 512];
    let mut file = fs::File::open(path).ok()?;
    let mut n = 0;
    while n < head.len() {
        match file.read(&mut head[n..]) {
            Ok(0) | Err(_) => break,
            Ok(read) => n += read,
        }
    }
    Compression::of(&head[..n])
}

fn is_archive(path: &Path) -> bool {
    archive_compression(path).is_some()
}

/// The entries of a local tar archive (plain, gzip, bzip2 or xz).
fn extract(path: &Path) -> Result<LayerEntries, String> {
    let fail = |e: std::io::Error| format!("extracting {}: {e}", path.display());
    let file = fs::File::open(path).map_err(fail)?;
    let reader: Box<dyn Read> = match archive_compression(path) {
        Some(Compression::Gzip) => Box::new(flate2::read::GzDecoder::new(file)),
        Some(Compression::Bzip2) => Box::new(bzip2::read::MultiBzDecoder::new(file)),
        Some(Compression::Xz) => {
            // lzma-rs decodes into a writer; the entries are read into memory anyway.
            let mut tar_bytes = Vec::new();
            lzma_rs::xz_decompress(&mut std::io::BufReader::new(file), &mut tar_bytes)
                .map_err(|e| format!("extracting {}: bad xz data: {e}", path.display()))?;
            Box::new(std::io::Cursor::new(tar_bytes))
        }
        Some(Compression::None) | None => Box::new(file),
    };
    let mut archive = tar::Archive::new(reader);
    let mut out = LayerEntries::new();
    for item in archive.entries().map_err(fail)? {
        let mut item = item.map_err(fail)?;
        let header = item.header().clone();
        let name = item.path().map_err(fail)?.to_string_lossy().into_owned();
        let Some(relative) = clean(&name).filter(|r| !r.is_empty()) else {
            continue;
        };
        let content = match header.entry_type() {
            tar::EntryType::Directory => Content::Dir,
            tar::EntryType::Symlink => match item.link_name().map_err(fail)? {
                Some(target) => Content::Symlink(target.into_owned()),
                None => continue,
            },
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let mut bytes = Vec::new();
                item.read_to_end(&mut bytes).map_err(fail)?;
                Content::Bytes(Arc::new(bytes))
            }
            _ => continue,
        };
        out.insert(
            relative,
            Entry {
                content,
                mode: header.mode().unwrap_or(0o644) & 0o7777,
                uid: header.uid().unwrap_or(0),
                gid: header.gid().unwrap_or(0),
            },
        );
    }
    Ok(out)
}
