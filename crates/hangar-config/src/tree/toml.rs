//! TOML → tree, with the offset of every key (from `toml_edit` spans).

use super::{Node, SyntaxError, Table, Value};

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
