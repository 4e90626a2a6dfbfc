//! An untyped document tree that remembers where each value came from.
//!
//! TOML, JSON and YAML are all read into this tree first; legacy shapes are normalized on it
//! (`patches`), then it is decoded into the typed model (`decode`). Each node keeps the byte offset
//! of the key (or array element) that introduced it, so diagnostics can point at line and column
//! even after a patch moved the node elsewhere.

mod json;
mod toml;
mod yaml;

use std::fmt;

pub(crate) use self::json::from_json;
pub(crate) use self::toml::from_toml;
pub(crate) use self::yaml::from_yaml;

/// A value with the byte offset where it was written (when the format provides one).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    pub value: Value,
    pub offset: Option<usize>,
}

/// The untyped value of a node.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    /// TOML date/time, kept as its text.
    Datetime(String),
    Array(Vec<Node>),
    Table(Table),
}

/// An ordered map of entries; keys are unique.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Table {
    pub entries: Vec<(String, Node)>,
}

impl Table {
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, n)| n)
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Node> {
        self.entries
            .iter_mut()
            .find(|(k, _)| k == key)
            .map(|(_, n)| n)
    }

    pub fn contains(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    pub fn remove(&mut self, key: &str) -> Option<Node> {
        let index = self.entries.iter().position(|(k, _)| k == key)?;
        Some(self.entries.remove(index).1)
    }

    /// Inserts or replaces, keeping the original position of a replaced key.
    pub fn insert(&mut self, key: &str, node: Node) {
        match self.get_mut(key) {
            Some(existing) => *existing = node,
            None => self.entries.push((key.to_string(), node)),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl Node {
    pub fn new(value: Value, offset: Option<usize>) -> Self {
        Self { value, offset }
    }

    pub fn as_table(&self) -> Option<&Table> {
        match &self.value {
            Value::Table(table) => Some(table),
            _ => None,
        }
    }

    pub fn as_table_mut(&mut self) -> Option<&mut Table> {
        match &mut self.value {
            Value::Table(table) => Some(table),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(text) => Some(text),
            _ => None,
        }
    }
}

impl Value {
    /// Name of the type as a user would say it ("a string", "an integer").
    pub fn describe(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a float",
            Value::Str(_) => "a string",
            Value::Datetime(_) => "a date-time",
            Value::Array(_) => "an array",
            Value::Table(_) => "a table",
        }
    }

    /// Name of the type as Go's `%T` prints it for a decoded map (used in flyctl-compatible messages).
    pub fn go_type_name(&self) -> &'static str {
        match self {
            Value::Null => "<nil>",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int64",
            Value::Float(_) => "float64",
            Value::Str(_) => "string",
            Value::Datetime(_) => "time.Time",
            Value::Array(_) => "[]interface {}",
            Value::Table(_) => "map[string]interface {}",
        }
    }

    /// Converts to JSON (used for free-form maps such as `[build.settings]`).
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Int(i) => serde_json::Value::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f)
                .map(serde_json::Value::Number)
                .unwrap_or(serde_json::Value::Null),
            Value::Str(s) | Value::Datetime(s) => serde_json::Value::String(s.clone()),
            Value::Array(items) => items.iter().map(|n| n.value.to_json()).collect(),
            Value::Table(table) => serde_json::Value::Object(
                table
                    .entries
                    .iter()
                    .map(|(k, n)| (k.clone(), n.value.to_json()))
                    .collect(),
            ),
        }
    }
}

impl fmt::Display for Value {
    /// Scalars the way Go's `%v` prints them (env values are stringified this way).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("<nil>"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => write!(f, "{x}"),
            Value::Str(s) | Value::Datetime(s) => f.write_str(s),
            Value::Array(_) | Value::Table(_) => f.write_str(&self.to_json().to_string()),
        }
    }
}

/// A syntax error with its byte offset (or line/column when the parser only gives those).
#[derive(Debug, Clone)]
pub(crate) struct SyntaxError {
    pub message: String,
    pub offset: Option<usize>,
    pub line_column: Option<(usize, usize)>,
}
