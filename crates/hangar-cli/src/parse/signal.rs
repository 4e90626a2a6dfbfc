//! `--signal`: a signal name (`SIGTERM`, `term`) or number (`15`, `34`).

use hangar_types::UnknownSignal;

/// Normalizes a signal to its `SIG…` name, or its number when it has none
/// (the table is [`hangar_types::signal::SIGNALS`], shared with the agent).
pub fn parse_signal(input: &str) -> Result<String, UnknownSignal> {
    hangar_types::canonical_signal(input)
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
    fn every_signal_the_agent_delivers_is_accepted() {
        for name in ["SIGSTOP", "cont", "WINCH", "tstp", "SIGPWR", "sys"] {
            assert!(parse_signal(name).is_ok(), "{name}");
        }
        assert_eq!(parse_signal("34").unwrap(), "34", "a real-time signal");
    }

    #[test]
    fn unknown_signals_are_refused_naming_the_accepted_ones() {
        for bad in ["SIGNOPE", "0", "99", ""] {
            let error = parse_signal(bad).unwrap_err().to_string();
            assert!(
                error.contains("SIGTERM") && error.contains("SIGWINCH"),
                "{bad}: {error}"
            );
        }
    }
}
