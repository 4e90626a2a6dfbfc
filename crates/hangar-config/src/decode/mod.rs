//! Typed decoding of the normalized tree into the model.
//!
//! Every key read is recorded with its position (so validation can point at it later), every
//! key not read is reported as unknown, and every wrong type is reported with the key and the
//! expected type. Decoding never stops at the first problem.

mod root;
mod services;

use std::collections::BTreeMap;
use std::path::PathBuf;

pub(crate) use root::decode_config;

use crate::diagnostics::{closest, Diagnostic, DiagnosticKind, Position, Severity};
use crate::source::LineIndex;
use crate::tree::{Node, Table, Value};
use crate::units::GoDuration;

/// How a bare number is read for a duration field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BareNumber {
    /// Check `interval`/`timeout`/`grace_period`: milliseconds.
    Millis,
    /// `kill_timeout`: seconds, fractions truncated.
    Seconds,
    /// Every other duration: flyctl reads nanoseconds; Hangar rejects it (docs/config.md).
    Rejected,
}

/// Decoding state: diagnostics and key positions collected so far.
pub(crate) struct Decoder<'a> {
    lines: &'a LineIndex,
    file: Option<PathBuf>,
    pub diagnostics: Vec<Diagnostic>,
    pub locations: BTreeMap<String, Position>,
}

/// Reading the entries of one table; remembers which keys were consumed.
pub(crate) struct Fields<'n> {
    table: &'n Table,
    path: String,
    used: Vec<bool>,
    known: Vec<&'static str>,
}

/// Joins a parent path and a key.
pub(crate) fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

impl<'a> Decoder<'a> {
    pub(crate) fn new(lines: &'a LineIndex, file: Option<PathBuf>) -> Self {
        Self {
            lines,
            file,
            diagnostics: Vec::new(),
            locations: BTreeMap::new(),
        }
    }

    pub(crate) fn position(&self, node: &Node) -> Option<Position> {
        node.offset.map(|offset| self.lines.position(offset))
    }

    /// Records a diagnostic at `node`.
    pub(crate) fn report(
        &mut self,
        node: &Node,
        path: &str,
        severity: Severity,
        kind: DiagnosticKind,
        message: String,
        help: Option<String>,
    ) {
        let mut diagnostic = Diagnostic::new(severity, kind, path, message).at(self.position(node));
        diagnostic.file = self.file.clone();
        diagnostic.help = help;
        self.diagnostics.push(diagnostic);
    }

    /// Records an error at `node`.
    pub(crate) fn error(
        &mut self,
        node: &Node,
        path: &str,
        kind: DiagnosticKind,
        message: String,
        help: impl Into<String>,
    ) {
        self.report(
            node,
            path,
            Severity::Error,
            kind,
            message,
            Some(help.into()),
        );
    }

    /// Records a warning at `node`.
    pub(crate) fn warn(
        &mut self,
        node: &Node,
        path: &str,
        kind: DiagnosticKind,
        message: String,
        help: impl Into<String>,
    ) {
        self.report(
            node,
            path,
            Severity::Warning,
            kind,
            message,
            Some(help.into()),
        );
    }

    pub(crate) fn wrong_type(&mut self, node: &Node, path: &str, expected: &str) {
        let found = node.value.describe();
        self.error(
            node,
            path,
            DiagnosticKind::WrongType,
            format!("expected {expected}, found {found}"),
            format!("write `{}` as {expected}", last_key(path)),
        );
    }

    /// Starts reading a table; reports a wrong type otherwise.
    pub(crate) fn table<'n>(&mut self, node: &'n Node, path: &str) -> Option<Fields<'n>> {
        match &node.value {
            Value::Table(table) => Some(Fields {
                table,
                path: path.to_string(),
                used: vec![false; table.entries.len()],
                known: Vec::new(),
            }),
            _ => {
                self.wrong_type(node, path, "a table");
                None
            }
        }
    }

    pub(crate) fn string(&mut self, node: &Node, path: &str) -> Option<String> {
        match &node.value {
            Value::Str(s) => Some(s.clone()),
            _ => {
                self.wrong_type(node, path, "a string");
                None
            }
        }
    }

    pub(crate) fn bool(&mut self, node: &Node, path: &str) -> Option<bool> {
        match &node.value {
            Value::Bool(b) => Some(*b),
            _ => {
                self.wrong_type(node, path, "a boolean (true or false)");
                None
            }
        }
    }

    /// An integer; integral floats are accepted (flyctl re-encodes through JSON).
    pub(crate) fn int(&mut self, node: &Node, path: &str) -> Option<i64> {
        match &node.value {
            Value::Int(i) => Some(*i),
            Value::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Some(*f as i64),
            _ => {
                self.wrong_type(node, path, "an integer");
                None
            }
        }
    }

    /// An integer that legacy configs may write as a string (`internal_port = "8080"`).
    pub(crate) fn int_or_numeric_string(&mut self, node: &Node, path: &str) -> Option<i64> {
        match &node.value {
            Value::Str(s) => match s.trim().parse::<i64>() {
                Ok(value) => Some(value),
                Err(_) => {
                    self.error(
                        node,
                        path,
                        DiagnosticKind::WrongType,
                        format!("expected an integer, found the string {s:?}"),
                        format!("write `{}` as a number, e.g. 8080", last_key(path)),
                    );
                    None
                }
            },
            _ => self.int(node, path),
        }
    }

    pub(crate) fn float(&mut self, node: &Node, path: &str) -> Option<f64> {
        match &node.value {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            _ => {
                self.wrong_type(node, path, "a number");
                None
            }
        }
    }

    /// An array of strings.
    pub(crate) fn strings(&mut self, node: &Node, path: &str) -> Vec<String> {
        match &node.value {
            Value::Array(items) => items
                .iter()
                .enumerate()
                .filter_map(|(i, item)| self.string(item, &format!("{path}[{i}]")))
                .collect(),
            _ => {
                self.wrong_type(node, path, "an array of strings");
                Vec::new()
            }
        }
    }

    /// A string or an array of strings; a string becomes a one-element array (not shell-split).
    pub(crate) fn string_or_strings(&mut self, node: &Node, path: &str) -> Option<Vec<String>> {
        match &node.value {
            Value::Str(s) => Some(vec![s.clone()]),
            Value::Array(_) => Some(self.strings(node, path)),
            _ => {
                self.wrong_type(node, path, "a string or an array of strings");
                None
            }
        }
    }

    /// A map of strings; scalar values are stringified the way flyctl does (`2` → `"2"`).
    pub(crate) fn string_map(&mut self, node: &Node, path: &str) -> BTreeMap<String, String> {
        let mut map = BTreeMap::new();
        let Some(mut fields) = self.table(node, path) else {
            return map;
        };
        for (key, value) in fields.all(self) {
            let entry_path = join(path, &key);
            match &value.value {
                Value::Null => {}
                Value::Array(_) | Value::Table(_) => {
                    self.wrong_type(value, &entry_path, "a string")
                }
                scalar => {
                    map.insert(key, scalar.to_string());
                }
            }
        }
        map
    }

    /// A size kept as text; numbers become their decimal text (`initial_size = 200` → `"200"`).
    pub(crate) fn size(&mut self, node: &Node, path: &str) -> Option<String> {
        match &node.value {
            Value::Str(s) => Some(s.clone()),
            Value::Int(i) => Some(i.to_string()),
            Value::Float(f) => Some(f.to_string()),
            _ => {
                self.wrong_type(node, path, "a size such as \"1gb\" or a number");
                None
            }
        }
    }

    /// A duration: a Go duration string, or a bare number read per `bare`. `""` means unset.
    pub(crate) fn duration(
        &mut self,
        node: &Node,
        path: &str,
        bare: BareNumber,
    ) -> Option<GoDuration> {
        match (&node.value, bare) {
            (Value::Str(s), _) if s.is_empty() => None,
            (Value::Str(s), _) => match GoDuration::parse(s) {
                Ok(duration) => Some(duration),
                Err(err) => {
                    self.error(
                        node,
                        path,
                        DiagnosticKind::InvalidValue,
                        err.to_string(),
                        "use Go duration syntax such as \"10s\", \"1m30s\" or \"500ms\"",
                    );
                    None
                }
            },
            (Value::Int(i), BareNumber::Millis) => Some(GoDuration::from_millis(*i)),
            (Value::Float(f), BareNumber::Millis) => {
                Some(GoDuration::from_nanos((*f * 1e6) as i64))
            }
            (Value::Int(i), BareNumber::Seconds) => Some(GoDuration::from_secs(*i)),
            (Value::Float(f), BareNumber::Seconds) => Some(GoDuration::from_secs(f.trunc() as i64)),
            (Value::Int(_) | Value::Float(_), BareNumber::Rejected) => {
                let number = node.value.to_string();
                self.error(
                    node,
                    path,
                    DiagnosticKind::InvalidValue,
                    format!("the bare number {number} has no unit; flyctl would read it as {number} nanoseconds"),
                    format!("write the duration as a string with a unit, e.g. `{} = \"{number}s\"`", last_key(path)),
                );
                None
            }
            _ => {
                self.wrong_type(node, path, "a duration string such as \"10s\"");
                None
            }
        }
    }

    /// An array of tables decoded by `item`. A single table is accepted as a one-element array
    /// with a warning (flyctl rejects it), so `[http_service.checks]` still works.
    pub(crate) fn list<T>(
        &mut self,
        node: &Node,
        path: &str,
        mut item: impl FnMut(&mut Self, &Node, &str) -> Option<T>,
    ) -> Vec<T> {
        match &node.value {
            Value::Array(items) => items
                .iter()
                .enumerate()
                .filter_map(|(i, element)| {
                    let element_path = format!("{path}[{i}]");
                    if let Some(position) = self.position(element) {
                        self.locations.insert(element_path.clone(), position);
                    }
                    item(self, element, &element_path)
                })
                .collect(),
            Value::Table(_) => {
                let key = last_key(path).to_string();
                self.warn(
                    node,
                    path,
                    DiagnosticKind::Legacy,
                    format!("`{key}` should be an array of tables; a single table was read as one entry"),
                    format!("write the header with double brackets: [[{}]]", strip_indices(path)),
                );
                let element_path = format!("{path}[0]");
                item(self, node, &element_path).into_iter().collect()
            }
            _ => {
                self.wrong_type(node, path, "an array of tables");
                Vec::new()
            }
        }
    }
}

impl<'n> Fields<'n> {
    /// Takes `key` if present (null counts as absent); records its position.
    pub(crate) fn take(
        &mut self,
        d: &mut Decoder<'_>,
        key: &'static str,
    ) -> Option<(&'n Node, String)> {
        self.known.push(key);
        let index = self.table.entries.iter().position(|(k, _)| k == key)?;
        self.used[index] = true;
        let node = &self.table.entries[index].1;
        let path = join(&self.path, key);
        if let Some(position) = d.position(node) {
            d.locations.insert(path.clone(), position);
        }
        if node.value == Value::Null {
            return None;
        }
        Some((node, path))
    }

    /// Takes every remaining entry (for free-form maps).
    pub(crate) fn all(&mut self, d: &mut Decoder<'_>) -> Vec<(String, &'n Node)> {
        let mut out = Vec::new();
        for (index, (key, node)) in self.table.entries.iter().enumerate() {
            if self.used[index] {
                continue;
            }
            self.used[index] = true;
            if let Some(position) = d.position(node) {
                d.locations.insert(join(&self.path, key), position);
            }
            out.push((key.clone(), node));
        }
        out
    }

    pub(crate) fn string(&mut self, d: &mut Decoder<'_>, key: &'static str) -> Option<String> {
        let (node, path) = self.take(d, key)?;
        d.string(node, &path)
    }

    pub(crate) fn bool(&mut self, d: &mut Decoder<'_>, key: &'static str) -> Option<bool> {
        let (node, path) = self.take(d, key)?;
        d.bool(node, &path)
    }

    pub(crate) fn int(&mut self, d: &mut Decoder<'_>, key: &'static str) -> Option<i64> {
        let (node, path) = self.take(d, key)?;
        d.int(node, &path)
    }

    pub(crate) fn port(&mut self, d: &mut Decoder<'_>, key: &'static str) -> Option<i64> {
        let (node, path) = self.take(d, key)?;
        d.int_or_numeric_string(node, &path)
    }

    pub(crate) fn float(&mut self, d: &mut Decoder<'_>, key: &'static str) -> Option<f64> {
        let (node, path) = self.take(d, key)?;
        d.float(node, &path)
    }

    pub(crate) fn strings(&mut self, d: &mut Decoder<'_>, key: &'static str) -> Vec<String> {
        match self.take(d, key) {
            Some((node, path)) => d.strings(node, &path),
            None => Vec::new(),
        }
    }

    pub(crate) fn string_map(
        &mut self,
        d: &mut Decoder<'_>,
        key: &'static str,
    ) -> BTreeMap<String, String> {
        match self.take(d, key) {
            Some((node, path)) => d.string_map(node, &path),
            None => BTreeMap::new(),
        }
    }

    pub(crate) fn size(&mut self, d: &mut Decoder<'_>, key: &'static str) -> Option<String> {
        let (node, path) = self.take(d, key)?;
        d.size(node, &path)
    }

    pub(crate) fn duration(
        &mut self,
        d: &mut Decoder<'_>,
        key: &'static str,
        bare: BareNumber,
    ) -> Option<GoDuration> {
        let (node, path) = self.take(d, key)?;
        d.duration(node, &path, bare)
    }

    /// Decodes an optional sub-table.
    pub(crate) fn section<T>(
        &mut self,
        d: &mut Decoder<'_>,
        key: &'static str,
        decode: impl FnOnce(&mut Decoder<'_>, &Node, &str) -> Option<T>,
    ) -> Option<T> {
        let (node, path) = self.take(d, key)?;
        decode(d, node, &path)
    }

    /// Decodes an optional array of tables.
    pub(crate) fn list<T>(
        &mut self,
        d: &mut Decoder<'_>,
        key: &'static str,
        item: impl FnMut(&mut Decoder<'_>, &Node, &str) -> Option<T>,
    ) -> Vec<T> {
        match self.take(d, key) {
            Some((node, path)) => d.list(node, &path, item),
            None => Vec::new(),
        }
    }

    /// Reports every key that was not read as unknown; `root` says whether this is the top level
    /// (where tables are "sections").
    pub(crate) fn finish(self, d: &mut Decoder<'_>, root: bool) {
        for (index, (key, node)) in self.table.entries.iter().enumerate() {
            if self.used[index] {
                continue;
            }
            let path = join(&self.path, key);
            let is_section = root && matches!(node.value, Value::Table(_) | Value::Array(_));
            let suggestion = closest(key, &self.known)
                .map(|candidate| format!("did you mean `{candidate}`? "))
                .unwrap_or_default();
            let (kind, message) = if is_section {
                (
                    DiagnosticKind::UnknownSection,
                    format!("unknown section [{key}]; it is ignored"),
                )
            } else if self.path.is_empty() {
                (
                    DiagnosticKind::UnknownKey,
                    format!("unknown top-level key `{key}`; it is ignored"),
                )
            } else {
                (
                    DiagnosticKind::UnknownKey,
                    format!(
                        "unknown key `{key}` in {}; it is ignored",
                        section_name(&self.path)
                    ),
                )
            };
            let help = format!("{suggestion}remove it or fix its spelling (known keys are listed in docs/config.md)");
            d.warn(node, &path, kind, message, help);
        }
    }
}

/// The last dotted component of a path, without an index.
pub(crate) fn last_key(path: &str) -> &str {
    let last = path.rsplit('.').next().unwrap_or(path);
    last.split('[').next().unwrap_or(last)
}

/// `services[0].ports` → `services.ports`.
fn strip_indices(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut depth = 0;
    for c in path.chars() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// `[services.ports]`-style name of a table path.
fn section_name(path: &str) -> String {
    format!("[{}]", strip_indices(path))
}
