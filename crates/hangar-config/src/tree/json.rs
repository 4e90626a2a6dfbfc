//! JSON → tree. `serde_json` checks the syntax (and bounds nesting); a second pass over the
//! now-known-valid text records the offset of every key and array element.

use super::{Node, SyntaxError, Table, Value};

/// Parses JSON; every key keeps its offset.
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
    let mut scanner = Scanner { text, pos: 0 };
    Ok(scanner.value(Some(0)).unwrap_or_else(|| json_node(&value)))
}

/// Walks valid JSON text; returns `None` on anything unexpected (the caller then falls back to
/// the position-less tree).
struct Scanner<'a> {
    text: &'a str,
    pos: usize,
}

impl Scanner<'_> {
    fn skip_whitespace(&mut self) {
        let rest = &self.text[self.pos..];
        self.pos += rest.len() - rest.trim_start_matches([' ', '\t', '\n', '\r']).len();
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        self.skip_whitespace();
        (self.peek()? == byte).then(|| self.pos += 1)
    }

    fn value(&mut self, offset: Option<usize>) -> Option<Node> {
        self.skip_whitespace();
        let start = self.pos;
        let offset = offset.or(Some(start));
        let value = match self.peek()? {
            b'{' => {
                self.pos += 1;
                let mut table = Table::default();
                self.skip_whitespace();
                if self.peek()? == b'}' {
                    self.pos += 1;
                } else {
                    loop {
                        self.skip_whitespace();
                        let key_offset = self.pos;
                        let key = self.string()?;
                        self.expect(b':')?;
                        let node = self.value(Some(key_offset))?;
                        table.insert(&key, node);
                        self.skip_whitespace();
                        match self.peek()? {
                            b',' => self.pos += 1,
                            b'}' => {
                                self.pos += 1;
                                break;
                            }
                            _ => return None,
                        }
                    }
                }
                Value::Table(table)
            }
            b'[' => {
                self.pos += 1;
                let mut items = Vec::new();
                self.skip_whitespace();
                if self.peek()? == b']' {
                    self.pos += 1;
                } else {
                    loop {
                        items.push(self.value(None)?);
                        self.skip_whitespace();
                        match self.peek()? {
                            b',' => self.pos += 1,
                            b']' => {
                                self.pos += 1;
                                break;
                            }
                            _ => return None,
                        }
                    }
                }
                Value::Array(items)
            }
            b'"' => Value::Str(self.string()?),
            b't' => self.literal("true", Value::Bool(true))?,
            b'f' => self.literal("false", Value::Bool(false))?,
            b'n' => self.literal("null", Value::Null)?,
            _ => {
                let rest = &self.text[self.pos..];
                let len = rest
                    .find(|c: char| !(c.is_ascii_digit() || "+-.eE".contains(c)))
                    .unwrap_or(rest.len());
                self.pos += len;
                let number: serde_json::Number = serde_json::from_str(&rest[..len]).ok()?;
                match number.as_i64() {
                    Some(i) => Value::Int(i),
                    None => Value::Float(number.as_f64()?),
                }
            }
        };
        Some(Node::new(value, offset))
    }

    fn literal(&mut self, word: &str, value: Value) -> Option<Value> {
        self.text[self.pos..].starts_with(word).then(|| {
            self.pos += word.len();
            value
        })
    }

    /// A string literal starting at the current position, unescaped by serde_json.
    fn string(&mut self) -> Option<String> {
        let bytes = self.text.as_bytes();
        if bytes.get(self.pos) != Some(&b'"') {
            return None;
        }
        let start = self.pos;
        let mut i = start + 1;
        while *bytes.get(i)? != b'"' {
            i += if bytes[i] == b'\\' { 2 } else { 1 };
        }
        self.pos = i + 1;
        serde_json::from_str(&self.text[start..=i]).ok()
    }
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
