//! An untyped document tree that remembers where each value came from.
//!
//! TOML, JSON and YAML are all read into this tree first; legacy shapes are normalized on it
//! (`patches`), then it is decoded into the typed model (`decode`). Each node keeps the byte offset
//! of the key (or array element) that introduced it, so diagnostics can point at line and column
//! even after a patch moved the node elsewhere.

use std::fmt;

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

/// Parses TOML, keeping the offset of every key.
pub(crate) fn from_toml(text: &str) -> Result<Node, SyntaxError> {
    let document = toml_edit::Document::parse(text.to_string()).map_err(|err| SyntaxError {
        message: err.message().trim().to_string(),
        offset: err.span().map(|s| s.start),
        line_column: None,
    })?;
    let root = document.as_table().clone();
    Ok(Node::new(
        Value::Table(toml_table(&root as &dyn toml_edit::TableLike)),
        Some(0),
    ))
}

fn toml_table(table: &dyn toml_edit::TableLike) -> Table {
    let mut entries = Vec::new();
    for (key, item) in table.iter() {
        let key_offset = table.key(key).and_then(|k| k.span()).map(|span| span.start);
        if let Some(node) = toml_item(item, key_offset) {
            entries.push((key.to_string(), node));
        }
    }
    Table { entries }
}

fn toml_item(item: &toml_edit::Item, key_offset: Option<usize>) -> Option<Node> {
    let offset = key_offset.or_else(|| item.span().map(|s| s.start));
    match item {
        toml_edit::Item::None => None,
        toml_edit::Item::Value(value) => Some(toml_value(value, offset)),
        toml_edit::Item::Table(table) => {
            let offset = table.span().map(|s| s.start).or(offset);
            Some(Node::new(Value::Table(toml_table(table)), offset))
        }
        toml_edit::Item::ArrayOfTables(array) => {
            let items = array
                .iter()
                .map(|table| {
                    Node::new(
                        Value::Table(toml_table(table)),
                        table.span().map(|s| s.start).or(offset),
                    )
                })
                .collect();
            Some(Node::new(Value::Array(items), offset))
        }
    }
}

fn toml_value(value: &toml_edit::Value, offset: Option<usize>) -> Node {
    let offset = offset.or_else(|| value.span().map(|s| s.start));
    let converted = match value {
        toml_edit::Value::String(s) => Value::Str(s.value().clone()),
        toml_edit::Value::Integer(i) => Value::Int(*i.value()),
        toml_edit::Value::Float(f) => Value::Float(*f.value()),
        toml_edit::Value::Boolean(b) => Value::Bool(*b.value()),
        toml_edit::Value::Datetime(d) => Value::Datetime(d.value().to_string()),
        toml_edit::Value::Array(array) => Value::Array(
            array
                .iter()
                .map(|v| toml_value(v, v.span().map(|s| s.start)))
                .collect(),
        ),
        toml_edit::Value::InlineTable(table) => Value::Table(toml_table(table)),
    };
    Node::new(converted, offset)
}

/// Parses JSON (no per-key positions; syntax errors carry line and column).
pub(crate) fn from_json(text: &str) -> Result<Node, SyntaxError> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|err| SyntaxError {
        message: {
            let text = err.to_string();
            let suffix = format!(" at line {} column {}", err.line(), err.column());
            text.strip_suffix(&suffix)
                .map(str::to_string)
                .unwrap_or(text)
        },
        offset: None,
        line_column: Some((err.line(), err.column())),
    })?;
    Ok(json_node(&value))
}

fn json_node(value: &serde_json::Value) -> Node {
    let converted = match value {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        serde_json::Value::String(s) => Value::Str(s.clone()),
        serde_json::Value::Array(items) => Value::Array(items.iter().map(json_node).collect()),
        serde_json::Value::Object(map) => Value::Table(Table {
            entries: map.iter().map(|(k, v)| (k.clone(), json_node(v))).collect(),
        }),
    };
    Node::new(converted, None)
}

/// Parses YAML; map keys that are not strings are stringified (as flyctl does).
pub(crate) fn from_yaml(text: &str) -> Result<Node, SyntaxError> {
    let value: serde_yaml::Value = serde_yaml::from_str(text).map_err(|err| SyntaxError {
        message: err.to_string(),
        offset: err.location().map(|l| l.index()),
        line_column: err.location().map(|l| (l.line(), l.column())),
    })?;
    Ok(yaml_node(&value))
}

fn yaml_node(value: &serde_yaml::Value) -> Node {
    let converted = match value {
        serde_yaml::Value::Null => Value::Null,
        serde_yaml::Value::Bool(b) => Value::Bool(*b),
        serde_yaml::Value::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        serde_yaml::Value::String(s) => Value::Str(s.clone()),
        serde_yaml::Value::Sequence(items) => Value::Array(items.iter().map(yaml_node).collect()),
        serde_yaml::Value::Mapping(map) => {
            let mut table = Table::default();
            for (k, v) in map {
                let key = match k {
                    serde_yaml::Value::String(s) => s.clone(),
                    other => yaml_node(other).value.to_string(),
                };
                table.insert(&key, yaml_node(v));
            }
            Value::Table(table)
        }
        serde_yaml::Value::Tagged(tagged) => return yaml_node(&tagged.value),
    };
    Node::new(converted, None)
}
