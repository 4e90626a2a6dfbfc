//! From Dockerfile text to logical lines: parser directives, comments,
//! continuation lines, each logical line with the number of its first line.

/// One instruction's text, continuation lines joined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LogicalLine {
    /// 1-based number of the line the instruction starts on.
    pub line: usize,
    pub text: String,
}

/// The parser directives at the top of a Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directives {
    /// The escape character (`\` unless `# escape=` says `` ` ``).
    pub escape: char,
    /// The `# syntax=` frontend, if any (recorded; the native builder ignores it).
    pub syntax: Option<String>,
}

impl Default for Directives {
    fn default() -> Self {
        Directives {
            escape: '\\',
            syntax: None,
        }
    }
}

/// Splits `text` into directives and logical lines. Errors are `(line, message)`.
pub(crate) fn split(text: &str) -> Result<(Directives, Vec<LogicalLine>), (usize, String)> {
    let physical: Vec<&str> = text.lines().collect();
    let mut directives = Directives::default();
    let mut first_body_line = 0;
    for (index, raw) in physical.iter().enumerate() {
        let Some((name, value)) = parse_directive(raw) else {
            first_body_line = index;
            break;
        };
        first_body_line = index + 1;
        match name.as_str() {
            "escape" => {
                directives.escape = match value.as_str() {
                    "\\" => '\\',
                    "`" => '`',
                    other => {
                        return Err((
                            index + 1,
                            format!("invalid escape directive {other:?}: use \\ or `"),
                        ))
                    }
                }
            }
            "syntax" => directives.syntax = Some(value),
            _ => {}
        }
    }

    let mut lines = Vec::new();
    let mut current: Option<LogicalLine> = None;
    for (index, raw) in physical.iter().enumerate().skip(first_body_line) {
        let trimmed = raw.trim_start();
        if trimmed.starts_with('#') {
            continue; // comments, also inside continued instructions
        }
        if trimmed.trim_end().is_empty() && current.is_none() {
            continue;
        }
        let (content, continues) = strip_continuation(raw, directives.escape);
        match current.as_mut() {
            Some(logical) => {
                logical.text.push_str(content.trim_start());
            }
            None => {
                current = Some(LogicalLine {
                    line: index + 1,
                    text: content.trim_start().to_owned(),
                })
            }
        }
        if !continues {
            if let Some(done) = current.take() {
                if !done.text.trim().is_empty() {
                    lines.push(done);
                }
            }
        }
    }
    if let Some(done) = current.take() {
        if !done.text.trim().is_empty() {
            lines.push(done);
        }
    }
    Ok((directives, lines))
}

/// `# name=value` at the top of the file; names are case-insensitive.
fn parse_directive(raw: &str) -> Option<(String, String)> {
    let rest = raw.trim().strip_prefix('#')?;
    let (name, value) = rest.split_once('=')?;
    let name = name.trim();
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric()) {
        return None;
    }
    Some((name.to_ascii_lowercase(), value.trim().to_owned()))
}

/// The line without a trailing escape character, and whether it continues.
fn strip_continuation(raw: &str, escape: char) -> (&str, bool) {
    let trimmed = raw.trim_end();
    match trimmed.strip_suffix(escape) {
        // An escaped escape (`\\`) at the end is a literal, not a continuation.
        Some(rest) if !rest.ends_with(escape) => (rest, true),
        _ => (raw, false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_continuations_and_skips_comments() {
        let (d, lines) = split("# escape=`\nFROM x\n\n# c\nCOPY a `\n  # inner\n  b /c\n").unwrap();
        assert_eq!(d.escape, '`');
        assert_eq!(lines[0].line, 2);
        assert_eq!(lines[1].line, 5);
        assert_eq!(lines[1].text, "COPY a b /c");
    }

    #[test]
    fn directives_only_at_the_top() {
        let (d, _) = split("FROM x\n# escape=`\n").unwrap();
        assert_eq!(d.escape, '\\');
    }
}
