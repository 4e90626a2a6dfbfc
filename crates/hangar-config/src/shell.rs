//! POSIX-style splitting of command lines (`[processes]`, `release_command`, `console_command`).

/// Why a command line cannot be split.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShellSplitError {
    /// A `'` or `"` is never closed.
    #[error("unterminated {0} quote")]
    UnterminatedQuote(char),
    /// The line ends with a lone backslash.
    #[error("trailing backslash with nothing to escape")]
    TrailingEscape,
}

/// Splits a command line into words with POSIX shell quoting rules (no expansion). A `#` at the
/// start of a word starts a comment.
pub fn split(line: &str) -> Result<Vec<String>, ShellSplitError> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut current));
                    in_word = false;
                }
            }
            '#' if !in_word => break,
            '\\' => {
                let escaped = chars.next().ok_or(ShellSplitError::TrailingEscape)?;
                if escaped != '\n' {
                    current.push(escaped);
                }
                in_word = true;
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(inner) => current.push(inner),
                        None => return Err(ShellSplitError::UnterminatedQuote('\'')),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(next @ ('"' | '\\' | '$' | '`')) => current.push(next),
                            Some('\n') => {}
                            Some(next) => {
                                current.push('\\');
                                current.push(next);
                            }
                            None => return Err(ShellSplitError::UnterminatedQuote('"')),
                        },
                        Some(inner) => current.push(inner),
                        None => return Err(ShellSplitError::UnterminatedQuote('"')),
                    }
                }
            }
            other => {
                current.push(other);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(current);
    }
    Ok(words)
}

/// Quotes a word so [`split`] returns it unchanged: bare when every character is safe, `"…"` when
/// spaces are the only unsafe characters, `'…'` otherwise (or `"…"` with escapes when the word
/// holds a single quote).
pub fn quote(word: &str) -> String {
    let is_safe = |c: char| c.is_ascii_alphanumeric() || "-_./:@%+,".contains(c);
    if !word.is_empty() && word.chars().all(is_safe) {
        return word.to_string();
    }
    if word.chars().all(|c| is_safe(c) || c == ' ') || word.contains('\'') {
        let mut out = String::from("\"");
        for c in word.chars() {
            if matches!(c, '"' | '\\' | '$' | '`') {
                out.push('\\');
            }
            out.push(c);
        }
        out.push('"');
        return out;
    }
    format!("'{word}'")
}

/// Joins words into a command line that [`split`] turns back into the same words.
pub fn join(words: &[String]) -> String {
    words.iter().map(|w| quote(w)).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_a_shell() {
        assert_eq!(split("echo 'Hello'").unwrap(), vec!["echo", "Hello"]);
        assert_eq!(split("keep me alive").unwrap(), vec!["keep", "me", "alive"]);
        assert_eq!(split(r#"a "b c" d\ e"#).unwrap(), vec!["a", "b c", "d e"]);
        assert_eq!(split("").unwrap(), Vec::<String>::new());
        assert!(split("echo 'oops").is_err());
        assert!(split("echo \\").is_err());
    }

    #[test]
    fn quotes_like_flyctl() {
        assert_eq!(quote("daemon off;"), "'daemon off;'");
        assert_eq!(quote("--six=seven"), "'--six=seven'");
        assert_eq!(quote("hi there"), "\"hi there\"");
        assert_eq!(quote("daemon"), "daemon");
        for word in ["daemon off;", "--six=seven", "hi there", "it's", "$HOME"] {
            assert_eq!(split(&quote(word)).unwrap(), vec![word.to_string()]);
        }
    }
}
