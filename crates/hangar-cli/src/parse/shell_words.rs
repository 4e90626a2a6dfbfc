//! Splitting a command line given as one string (`--cmd "nginx -g 'daemon off;'"`)
//! into arguments, with the same POSIX quoting rules fly.toml's commands use
//! (`hangar_config::shell`): whitespace separates, quotes group, a backslash
//! escapes, `#` at the start of a word begins a comment; no expansion.

/// A command line with an unbalanced quote or a trailing backslash.
#[derive(Debug, thiserror::Error)]
#[error("cannot split {input:?} into arguments: {source}; close the quote or escape it with a backslash")]
pub struct ShellWordsError {
    input: String,
    source: hangar_config::shell::ShellSplitError,
}

/// Splits `input` into words.
pub fn split(input: &str) -> Result<Vec<String>, ShellWordsError> {
    hangar_config::shell::split(input).map_err(|source| ShellWordsError {
        input: input.to_string(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_group_and_errors_name_the_input() {
        assert_eq!(
            split("nginx -g 'daemon off;'").unwrap(),
            vec!["nginx", "-g", "daemon off;"]
        );
        assert_eq!(
            split(r#"echo "a \"b\"" c\ d"#).unwrap(),
            vec!["echo", r#"a "b""#, "c d"]
        );
        let err = split("echo 'open").unwrap_err().to_string();
        assert!(
            err.contains("\"echo 'open\"") && err.contains("close the quote"),
            "{err}"
        );
    }
}
