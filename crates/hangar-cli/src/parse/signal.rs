//! `--signal`: a signal name (`SIGTERM`, `term`) or number (`15`).

/// Signals a machine can be sent, by number.
const SIGNALS: [(u8, &str); 14] = [
    (1, "SIGHUP"),
    (2, "SIGINT"),
    (3, "SIGQUIT"),
    (4, "SIGILL"),
    (5, "SIGTRAP"),
    (6, "SIGABRT"),
    (8, "SIGFPE"),
    (9, "SIGKILL"),
    (10, "SIGUSR1"),
    (11, "SIGSEGV"),
    (12, "SIGUSR2"),
    (13, "SIGPIPE"),
    (14, "SIGALRM"),
    (15, "SIGTERM"),
];

/// A signal that is not known.
#[derive(Debug, thiserror::Error)]
#[error("unknown signal {input:?}: use a name such as SIGTERM, SIGINT or SIGKILL (or its number)")]
pub struct SignalError {
    input: String,
}

/// Normalizes a signal to its `SIG…` name.
pub fn parse_signal(input: &str) -> Result<String, SignalError> {
    let error = || SignalError {
        input: input.to_string(),
    };
    let trimmed = input.trim();
    if let Ok(number) = trimmed.parse::<u8>() {
        return SIGNALS
            .iter()
            .find(|(n, _)| *n == number)
            .map(|(_, name)| name.to_string())
            .ok_or_else(error);
    }
    let upper = trimmed.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    SIGNALS
        .iter()
        .find(|(_, known)| *known == name)
        .map(|(_, known)| known.to_string())
        .ok_or_else(error)
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
