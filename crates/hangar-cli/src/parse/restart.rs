//! `--restart`: the restart policy of a machine.

use hangar_types::RestartPolicy;

/// A restart policy name that does not exist.
#[derive(Debug, thiserror::Error)]
#[error("invalid restart policy {input:?}: use no, always or on-fail (also spelled on-failure)")]
pub struct RestartPolicyError {
    input: String,
}

/// `no`, `always`, `on-fail` or `on-failure`, case-insensitive.
pub fn parse_restart_policy(input: &str) -> Result<RestartPolicy, RestartPolicyError> {
    match input.trim().to_ascii_lowercase().as_str() {
        "no" => Ok(RestartPolicy::No),
        "always" => Ok(RestartPolicy::Always),
        "on-fail" | "on-failure" => Ok(RestartPolicy::OnFailure),
        _ => Err(RestartPolicyError {
            input: input.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flyctl_and_api_spellings_are_accepted() {
        assert_eq!(parse_restart_policy("no").unwrap(), RestartPolicy::No);
        assert_eq!(
            parse_restart_policy("Always").unwrap(),
            RestartPolicy::Always
        );
        assert_eq!(
            parse_restart_policy("on-fail").unwrap(),
            RestartPolicy::OnFailure
        );
        assert_eq!(
            parse_restart_policy("on-failure").unwrap(),
            RestartPolicy::OnFailure
        );
    }

    #[test]
    fn unknown_policies_list_the_valid_ones() {
        let message = parse_restart_policy("sometimes").unwrap_err().to_string();
        assert!(message.contains("\"sometimes\""));
        assert!(message.contains("no, always or on-fail"));
    }
}
