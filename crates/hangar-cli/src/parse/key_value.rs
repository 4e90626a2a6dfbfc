//! `NAME=VALUE` pairs of `--env` and `--metadata`.

/// A `NAME=VALUE` flag value that is not one.
#[derive(Debug, thiserror::Error)]
#[error("invalid {what} {input:?}: {reason}; use NAME=VALUE, for example {example}")]
pub struct KeyValueError {
    what: &'static str,
    input: String,
    reason: &'static str,
    example: &'static str,
}

/// `--env NAME=VALUE`: the name is a letter or `_` followed by letters,
/// digits and `_`; the value may be empty and may contain `=`.
pub fn parse_env_var(input: &str) -> Result<(String, String), KeyValueError> {
    let error = |reason| KeyValueError {
        what: "environment variable",
        input: input.to_string(),
        reason,
        example: "PORT=8080",
    };
    let (name, value) = input
        .split_once('=')
        .ok_or_else(|| error("there is no '='"))?;
    if name.is_empty() {
        return Err(error("the name is empty"));
    }
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if !first_ok || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(error(
            "a name is a letter or '_' followed by letters, digits or '_'",
        ));
    }
    Ok((name.to_string(), value.to_string()))
}

/// `--metadata NAME=VALUE`: any name without whitespace.
pub fn parse_metadata(input: &str) -> Result<(String, String), KeyValueError> {
    let error = |reason| KeyValueError {
        what: "metadata",
        input: input.to_string(),
        reason,
        example: "role=worker",
    };
    let (name, value) = input
        .split_once('=')
        .ok_or_else(|| error("there is no '='"))?;
    if name.is_empty() {
        return Err(error("the name is empty"));
    }
    if name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(error("the name contains whitespace"));
    }
    Ok((name.to_string(), value.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_vars_split_at_the_first_equals_sign() {
        assert_eq!(
            parse_env_var("DATABASE_URL=postgres://u:p@h/db?x=1").unwrap(),
            ("DATABASE_URL".into(), "postgres://u:p@h/db?x=1".into())
        );
        assert_eq!(
            parse_env_var("EMPTY=").unwrap(),
            ("EMPTY".into(), String::new())
        );
        assert_eq!(parse_env_var("_x1=y").unwrap(), ("_x1".into(), "y".into()));
    }

    #[test]
    fn bad_env_vars_say_what_to_write() {
        for bad in ["PORT", "=8080", "1PORT=1", "MY VAR=1", "MY-VAR=1"] {
            let message = parse_env_var(bad).unwrap_err().to_string();
            assert!(message.contains("use NAME=VALUE"), "{bad}: {message}");
            assert!(message.contains(&format!("{bad:?}")), "{bad}: {message}");
        }
    }

    #[test]
    fn metadata_names_are_loose_but_not_blank() {
        assert_eq!(
            parse_metadata("fly_process_group=web").unwrap(),
            ("fly_process_group".into(), "web".into())
        );
        assert_eq!(
            parse_metadata("a.b-c=").unwrap(),
            ("a.b-c".into(), String::new())
        );
        assert!(parse_metadata("=x").is_err());
        assert!(parse_metadata("a b=x").is_err());
        assert!(parse_metadata("novalue").is_err());
    }
}
