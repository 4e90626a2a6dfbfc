//! Errors and warnings found while loading or validating a fly.toml, with their position.

use std::fmt;
use std::path::PathBuf;

use serde::Serialize;

/// How serious a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Informational or recoverable: the config is still usable.
    Warning,
    /// The config must be fixed before it can be deployed.
    Error,
}

/// What class of problem a diagnostic reports; lets callers filter without matching text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DiagnosticKind {
    /// The file is not well-formed TOML/JSON/YAML.
    Syntax,
    /// A value has the wrong type for its key.
    WrongType,
    /// A value has the right type but is not acceptable.
    InvalidValue,
    /// A required key is missing.
    Missing,
    /// A section flyctl does not know (reported on every load; an error with `--strict`).
    UnknownSection,
    /// A key flyctl does not know (reported on every load; an error with `--strict`).
    UnknownKey,
    /// A legacy shape or setting that is accepted but has surprising effects.
    Legacy,
    /// Cross-section rules (process groups, mounts per group, deploy strategy, …).
    Consistency,
}

/// A 1-based line and column in the source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Position {
    /// 1-based line number.
    pub line: usize,
    /// 1-based column, counted in characters.
    pub column: usize,
}

/// One problem found in a config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// Class of problem.
    pub kind: DiagnosticKind,
    /// File the problem is in, when the config came from a file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<PathBuf>,
    /// Where in the file, when known (TOML and JSON always; YAML only for syntax errors).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<Position>,
    /// Dotted path of the key in the normalized model, e.g. `services[0].concurrency`.
    pub key: String,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
}

impl Diagnostic {
    /// A new diagnostic without file or position.
    pub fn new(
        severity: Severity,
        kind: DiagnosticKind,
        key: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            severity,
            kind,
            file: None,
            position: None,
            key: key.into(),
            message: message.into(),
            help: None,
        }
    }

    /// An error diagnostic.
    pub fn error(kind: DiagnosticKind, key: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(Severity::Error, kind, key, message)
    }

    /// A warning diagnostic.
    pub fn warning(
        kind: DiagnosticKind,
        key: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self::new(Severity::Warning, kind, key, message)
    }

    /// Adds a fix-it hint.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Sets the position.
    pub fn at(mut self, position: Option<Position>) -> Self {
        self.position = position;
        self
    }

    /// True for errors.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// True for unknown sections and keys (the strict-mode class).
    pub fn is_unknown_key(&self) -> bool {
        matches!(
            self.kind,
            DiagnosticKind::UnknownKey | DiagnosticKind::UnknownSection
        )
    }
}

impl fmt::Display for Diagnostic {
    /// `fly.toml:12:3: error: services[0].concurrency: <message>` then an indented `help:` line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "{}", file.display())?;
            if let Some(position) = self.position {
                write!(f, ":{}:{}", position.line, position.column)?;
            }
            f.write_str(": ")?;
        } else if let Some(position) = self.position {
            write!(f, "{}:{}: ", position.line, position.column)?;
        }
        let label = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{label}: ")?;
        if !self.key.is_empty() {
            write!(f, "{}: ", self.key)?;
        }
        f.write_str(&self.message)?;
        if let Some(help) = &self.help {
            write!(f, "\n  help: {help}")?;
        }
        Ok(())
    }
}

/// Turns unknown-key warnings into errors (what `--strict` does).
pub fn apply_strict(diagnostics: &mut [Diagnostic]) {
    for diagnostic in diagnostics.iter_mut().filter(|d| d.is_unknown_key()) {
        diagnostic.severity = Severity::Error;
    }
}

/// Edit distance used for "did you mean" suggestions.
pub(crate) fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|candidate| (levenshtein(word, candidate), *candidate))
        .filter(|(distance, candidate)| *distance <= (candidate.len() / 3).max(2))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}
