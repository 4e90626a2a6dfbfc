//! `--signal`: a signal name (`SIGTERM`, `term`) or number (`15`).

/// A signal that is not known.
#[derive(Debug, thiserror::Error)]
#[error("unknown signal {input:?}: use a name such as SIGTERM, SIGINT or SIGKILL (or its number)")]
pub struct SignalError {
    input: String,
}

/// Normalizes a signal to its `SIG…` name (the table is
/// [`hangar_types::signal::SIGNALS`], shared with the agent).
pub fn parse_signal(input: &str) -> Result<String, SignalError> {
    hangar_types::signal_name(input)
        .map(str::to_string)
        .ok_or_else(|| SignalError {
            input: input.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers_normalize() {
        assert_eq!(parse_signal("SIGTERM").unwrap(), "SIGTERM");
        assert_eq!(parse_signal("term").unwrap(), "SIGTERM");
        assert_eq!(parse_signal("sigint").unwrap(), "SIGINT");
        assert_eq!(parse_signal("9").unwrap(), "SIGKILL");
    }

    #[test]
    fn unknown_signals_are_refused() {
        for bad in ["SIGNOPE", "0", "99", ""] {
            assert!(parse_signal(bad).is_err(), "{bad}");
        }
    }
}
