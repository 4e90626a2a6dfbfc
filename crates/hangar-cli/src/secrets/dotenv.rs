//! Parsing dotenv text for `secrets import`: `KEY=VALUE` lines, blank lines
//! and `#` comments skipped, an optional `export ` prefix, values bare,
//! 'single-quoted' (literal) or "double-quoted" (`\n`, `\t`, `\"`, `\\`
//! escapes). Any malformed line fails the whole import, naming the line.

use std::collections::BTreeMap;

/// A line that is not `KEY=VALUE`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line} of the dotenv input: {problem}; nothing was set")]
pub struct DotenvError {
    /// 1-based line number.
    pub line: usize,
    pub problem: String,
}

/// Every `KEY=VALUE` of `text`; a later key replaces an earlier one.
pub(crate) fn parse(text: &str) -> Result<BTreeMap<String, String>, DotenvError> {
    let mut values = BTreeMap::new();
    for (index, raw) in text.lines().enumerate() {
        let fail = |problem: String| DotenvError {
            line: index + 1,
            problem,
        };
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line).trim_start();
        let Some((key, value)) = line.split_once('=') else {
            return Err(fail(format!("{line:?} is not KEY=VALUE")));
        };
        let key = key.trim();
        if !hangar_types::is_valid_secret_name(key) {
            return Err(fail(format!(
                "{key:?} is not a valid name (letters, digits and _, not starting with a digit)"
            )));
        }
        values.insert(key.to_string(), parse_value(value.trim()).map_err(fail)?);
    }
    Ok(values)
}

fn parse_value(value: &str) -> Result<String, String> {
    if let Some(rest) = value.strip_prefix('\'') {
        let Some(end) = rest.find('\'') else {
            return Err("the single quote is never closed".into());
        };
        return trailing_comment_only(&rest[end + 1..]).map(|()| rest[..end].to_string());
    }
    if let Some(rest) = value.strip_prefix('"') {
        let mut out = String::new();
        let mut chars = rest.char_indices();
        while let Some((at, c)) = chars.next() {
            match c {
                '"' => return trailing_comment_only(&rest[at + 1..]).map(|()| out),
                '\\' => match chars.next() {
                    Some((_, 'n')) => out.push('\n'),
                    Some((_, 't')) => out.push('\t'),
                    Some((_, 'r')) => out.push('\r'),
                    Some((_, other)) => out.push(other),
                    None => break,
                },
                other => out.push(other),
            }
        }
        return Err("the double quote is never closed".into());
    }
    // Bare: up to a ` #` comment.
    let bare = match value.find(" #") {
        Some(at) => &value[..at],
        None => value,
    };
    Ok(bare.trim_end().to_string())
}

fn trailing_comment_only(rest: &str) -> Result<(), String> {
    let rest = rest.trim();
    if rest.is_empty() || rest.starts_with('#') {
        Ok(())
    } else {
        Err(format!("unexpected {rest:?} after the quoted value"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_usual_shapes() {
        let text = "# comment\n\nA=1\nexport B = two words \nC='lit $X \\n'\n\
                    D=\"line\\nnext \\\"q\\\"\" # note\nE=\nF=x #c\n";
        let values = parse(text).unwrap();
        assert_eq!(values["A"], "1");
        assert_eq!(values["B"], "two words");
        assert_eq!(values["C"], "lit $X \\n");
        assert_eq!(values["D"], "line\nnext \"q\"");
        assert_eq!(values["E"], "");
        assert_eq!(values["F"], "x");
        assert_eq!(values.len(), 6);
    }

    #[test]
    fn a_malformed_line_is_named() {
        let err = parse("A=1\nthis is wrong\nB=2\n").unwrap_err();
        assert_eq!(err.line, 2);
        assert!(err.to_string().contains("line 2"), "{err}");
        assert_eq!(parse("1X=2").unwrap_err().line, 1);
        assert_eq!(parse("A=1\nB=\"open").unwrap_err().line, 2);
        assert_eq!(parse("A='x' y").unwrap_err().line, 1);
    }
}
