//! YAML → tree (no positions except for syntax errors).

use super::{Node, SyntaxError, Table, Value};

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
