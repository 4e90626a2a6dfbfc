//! Splitting a command line given as one string (`--cmd "nginx -g 'daemon off;'"`)
//! into arguments, the way a POSIX shell splits words: whitespace separates,
//! single quotes keep everything, double quotes keep everything except
//! backslash escapes of `"`, `\`, `$` and `` ` ``, and a backslash outside
//! quotes escapes the next character. No expansion of any kind.

/// A command line with an unbalanced quote or a trailing backslash.
#[derive(Debug, thiserror::Error)]
#[error("cannot split {input:?} into arguments: {reason}; close the quote or escape it with a backslash")]
pub struct ShellWordsError {
    input: String,
    reason: &'static str,
}

/// Splits `input` into words.
pub fn split(input: &str) -> Result<Vec<String>, ShellWordsError> {
    let error = |reason| ShellWordsError {
        input: input.to_string(),
        reason,
    };
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = input.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err(error("a single quote is not closed")),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => word.push(c),
                            Some('\n') => {}
                            Some(c) => {
                                word.push('\\');
                                word.push(c);
                            }
                            None => return Err(error("a double quote is not closed")),
                        },
                        Some(c) => word.push(c),
                        None => return Err(error("a double quote is not closed")),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some('\n') => {}
                    Some(c) => word.push(c),
                    None => return Err(error("it ends with a backslash")),
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_a_shell() {
        assert_eq!(split("ls -la /").unwrap(), ["ls", "-la", "/"]);
        assert_eq!(
            split("nginx -g 'daemon off;'").unwrap(),
            ["nginx", "-g", "daemon off;"]
        );
        assert_eq!(
            split(r#"sh -c "echo \"hi there\" > /tmp/x""#).unwrap(),
            ["sh", "-c", r#"echo "hi there" > /tmp/x"#]
        );
        assert_eq!(split(r"a\ b c").unwrap(), ["a b", "c"]);
        assert_eq!(split("empty '' arg").unwrap(), ["empty", "", "arg"]);
        assert_eq!(split(r#""a\nb""#).unwrap(), [r"a\nb"]);
        assert_eq!(split("  \t ").unwrap(), Vec::<String>::new());
    }

    #[test]
    fn unbalanced_quotes_are_errors() {
        for bad in ["echo 'hi", "echo \"hi", "echo \\"] {
            let message = split(bad).unwrap_err().to_string();
            assert!(message.contains("close the quote"), "{message}");
        }
    }
}
