//! The loading pipeline: read, parse, normalize legacy shapes, decode.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::decode::{decode_config, Decoder};
use crate::diagnostics::{Diagnostic, DiagnosticKind, Position};
use crate::model::{Config, SourcePath};
use crate::patches;
use crate::source::{Format, LineIndex};
use crate::tree::{self, Value};
use crate::validate;

/// Largest config file accepted, so a bad path cannot make the loader allocate without bound.
pub const MAX_CONFIG_BYTES: u64 = 4 * 1024 * 1024;

/// Why a config could not be loaded at all (anything less severe is a [`Diagnostic`]).
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("cannot read {}: {source}; check the path or pass -c PATH", path.display())]
    Io {
        /// File that was read.
        path: PathBuf,
        /// Underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The file is larger than [`MAX_CONFIG_BYTES`].
    #[error("{} is {size} bytes, larger than the {MAX_CONFIG_BYTES}-byte limit for a config file; is this the right file?", path.display())]
    TooLarge {
        /// File that was read.
        path: PathBuf,
        /// Its size.
        size: u64,
    },
    /// The text is not valid TOML/JSON/YAML.
    #[error("{0}")]
    Syntax(Box<Diagnostic>),
}

/// Where each key of the normalized model was written.
#[derive(Debug, Clone, Default)]
pub struct KeyLocations {
    file: Option<PathBuf>,
    positions: BTreeMap<String, Position>,
}

impl KeyLocations {
    /// The file the config came from.
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    /// Position of `key` (a model path such as `services[0].ports[1].port`), or of its nearest
    /// ancestor that has one.
    pub fn position(&self, key: &str) -> Option<Position> {
        let mut current = key;
        loop {
            if let Some(position) = self.positions.get(current) {
                return Some(*position);
            }
            let cut = current.rfind(['.', '['])?;
            current = &current[..cut];
        }
    }

    /// Fills in file and position of a diagnostic from its key.
    pub fn locate(&self, mut diagnostic: Diagnostic) -> Diagnostic {
        if diagnostic.file.is_none() {
            diagnostic.file = self.file.clone();
        }
        if diagnostic.position.is_none() {
            diagnostic.position = self.position(&diagnostic.key);
        }
        diagnostic
    }
}

/// A loaded config with what was found while loading it.
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    /// The normalized model.
    pub config: Config,
    /// Format it was read from.
    pub format: Format,
    /// Load-time diagnostics: wrong types, unknown keys, legacy shapes (not validation).
    pub diagnostics: Vec<Diagnostic>,
    /// Where each key was written.
    pub locations: KeyLocations,
}

impl LoadedConfig {
    /// Load diagnostics plus full validation, positioned and in file order.
    pub fn check(&self) -> Vec<Diagnostic> {
        let mut all = self.diagnostics.clone();
        let load_errors: Vec<&str> = self
            .diagnostics
            .iter()
            .filter(|d| d.is_error())
            .map(|d| d.key.as_str())
            .collect();
        for diagnostic in validate::validate(&self.config) {
            let duplicate = all.iter().any(|d| d.message == diagnostic.message);
            // A value that failed to load is unset in the model; rules about it (or about its
            // table) would only repeat the load error.
            let follows_load_error = load_errors.iter().any(|key| {
                *key == diagnostic.key || parent_key(key) == Some(diagnostic.key.as_str())
            });
            if !duplicate && !follows_load_error {
                all.push(self.locations.locate(diagnostic));
            }
        }
        all.sort_by_key(|d| {
            d.position
                .map(|p| (p.line, p.column))
                .unwrap_or((usize::MAX, 0))
        });
        all
    }
}

/// `a.b[0].c` → `a.b[0]`; `a.b[0]` → `a.b`.
fn parent_key(key: &str) -> Option<&str> {
    key.rfind(['.', '[']).map(|cut| &key[..cut])
}

/// Reads and loads a config file; the format comes from the suffix.
pub fn load_file(path: &Path) -> Result<LoadedConfig, LoadError> {
    let io_error = |source| LoadError::Io {
        path: path.to_path_buf(),
        source,
    };
    let size = std::fs::metadata(path).map_err(io_error)?.len();
    if size > MAX_CONFIG_BYTES {
        return Err(LoadError::TooLarge {
            path: path.to_path_buf(),
            size,
        });
    }
    let text = std::fs::read_to_string(path).map_err(io_error)?;
    load_str(&text, detect_format(path, &text), Some(path))
}

/// The format of a file: by suffix, except that a `.yml` file that is not a YAML mapping is read
/// as TOML, which is what flyctl does with every `.yml` file.
fn detect_format(path: &Path, text: &str) -> Format {
    let format = Format::from_path(path);
    let is_yml = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("yml"));
    if is_yml {
        let yaml_mapping = serde_yaml::from_str::<serde_yaml::Value>(text)
            .map(|v| v.is_mapping() || v.is_null())
            .unwrap_or(false);
        if !yaml_mapping {
            return Format::Toml;
        }
    }
    format
}

/// Loads config text of a known format; `file` is used in diagnostics and to resolve relative paths.
pub fn load_str(
    text: &str,
    format: Format,
    file: Option<&Path>,
) -> Result<LoadedConfig, LoadError> {
    let lines = LineIndex::new(text);
    let parsed = match format {
        Format::Toml => tree::from_toml(text),
        Format::Json => tree::from_json(text),
        Format::Yaml => tree::from_yaml(text),
    };
    let mut root = parsed.map_err(|err| {
        let position = match (err.offset, err.line_column) {
            (Some(offset), _) if format == Format::Toml => Some(lines.position(offset)),
            (_, Some((line, column))) => Some(Position { line, column }),
            (Some(offset), None) => Some(lines.position(offset)),
            (None, None) => None,
        };
        let mut diagnostic = Diagnostic::error(DiagnosticKind::Syntax, "", err.message)
            .at(position)
            .with_help("fix the syntax at this position; the file could not be read at all");
        diagnostic.file = file.map(Path::to_path_buf);
        LoadError::Syntax(Box::new(diagnostic))
    })?;
    if matches!(root.value, Value::Null) {
        root.value = Value::Table(Default::default());
    }
    let source = SourcePath(file.map(Path::to_path_buf));
    let mut decoder = Decoder::new(&lines, file.map(Path::to_path_buf));
    let config = match root.as_table_mut().map(patches::apply) {
        Some(Ok(warnings)) => {
            for warning in warnings {
                let mut diagnostic =
                    Diagnostic::warning(DiagnosticKind::Legacy, warning.key, warning.message)
                        .at(warning.offset.map(|o| lines.position(o)))
                        .with_help(warning.help);
                diagnostic.file = file.map(Path::to_path_buf);
                decoder.diagnostics.push(diagnostic);
            }
            decode_config(&mut decoder, &root)
        }
        Some(Err(patch_error)) => {
            let app = root
                .as_table()
                .and_then(|t| t.get("app"))
                .and_then(|n| n.as_str())
                .map(str::to_string);
            let mut diagnostic = Diagnostic::error(
                DiagnosticKind::WrongType,
                patch_error.key.clone(),
                patch_error.message.clone(),
            )
            .at(patch_error.offset.map(|o| lines.position(o)))
            .with_help(
                "write concurrency as a table: `[services.concurrency]` with type, soft_limit and hard_limit \
                 (nothing else in this file is used until this is fixed)",
            );
            diagnostic.file = file.map(Path::to_path_buf);
            decoder.diagnostics.push(diagnostic);
            Config {
                app,
                parse_error: Some(patch_error.message),
                ..Config::default()
            }
        }
        None => decode_config(&mut decoder, &root),
    };
    Ok(LoadedConfig {
        config: Config { source, ..config },
        format,
        diagnostics: decoder.diagnostics,
        locations: KeyLocations {
            file: file.map(Path::to_path_buf),
            positions: decoder.locations,
        },
    })
}
