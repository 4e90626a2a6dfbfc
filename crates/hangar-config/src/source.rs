//! Finding the config file, telling its format, and mapping byte offsets to lines and columns.

use std::path::{Path, PathBuf};

use crate::diagnostics::Position;

/// Serialization format of a config file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// TOML (`fly.toml`, and any unrecognised suffix).
    Toml,
    /// JSON (`.json`).
    Json,
    /// YAML (`.yaml`; `.yml` too when it holds a YAML mapping — see docs/config.md).
    Yaml,
}

impl Format {
    /// Picks the format from the file name suffix.
    pub fn from_path(path: &Path) -> Self {
        match path.extension().and_then(|e| e.to_str()) {
            Some(ext) if ext.eq_ignore_ascii_case("json") => Format::Json,
            Some(ext) if ext.eq_ignore_ascii_case("yaml") || ext.eq_ignore_ascii_case("yml") => {
                Format::Yaml
            }
            _ => Format::Toml,
        }
    }
}

/// Default config file name.
pub const DEFAULT_CONFIG_NAME: &str = "fly.toml";

/// Resolves `-c PATH`: a directory means `DIR/fly.toml`; no path means `./fly.toml`.
pub fn resolve_config_path(path: Option<&Path>) -> PathBuf {
    match path {
        None => PathBuf::from(DEFAULT_CONFIG_NAME),
        Some(path) if path.is_dir() => path.join(DEFAULT_CONFIG_NAME),
        Some(path) => path.to_path_buf(),
    }
}

/// Maps byte offsets of a source text to 1-based line/column positions.
#[derive(Debug, Clone, Default)]
pub(crate) struct LineIndex {
    line_starts: Vec<usize>,
    text: String,
}

impl LineIndex {
    pub(crate) fn new(text: &str) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Self {
            line_starts,
            text: text.to_string(),
        }
    }

    /// Position of a byte offset; offsets past the end clamp to the end.
    pub(crate) fn position(&self, offset: usize) -> Position {
        let offset = offset.min(self.text.len());
        let line = self.line_starts.partition_point(|start| *start <= offset) - 1;
        let start = self.line_starts[line];
        let column = self
            .text
            .get(start..offset)
            .map(|prefix| prefix.chars().count())
            .unwrap_or(offset - start);
        Position {
            line: line + 1,
            column: column + 1,
        }
    }
}
