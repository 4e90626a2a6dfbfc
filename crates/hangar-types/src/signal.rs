//! The signals a Machine can be sent, by name and number (Linux x86_64 and
//! aarch64 numbering), shared by the agent, the API and the CLI.

/// Every signal Hangar knows by name, with its number.
pub const SIGNALS: [(i32, &str); 17] = [
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
    (18, "SIGCONT"),
    (19, "SIGSTOP"),
    (28, "SIGWINCH"),
];

/// The `SIG…` name of a signal given by name (`SIGTERM`, `term`) or by the
/// number of a named signal (`15`); `None` when it is not one of
/// [`SIGNALS`].
pub fn signal_name(input: &str) -> Option<&'static str> {
    let trimmed = input.trim();
    if let Ok(number) = trimmed.parse::<i32>() {
        return SIGNALS.iter().find(|(n, _)| *n == number).map(|(_, s)| *s);
    }
    let upper = trimmed.to_ascii_uppercase();
    let bare = upper.strip_prefix("SIG").unwrap_or(&upper);
    SIGNALS
        .iter()
        .find(|(_, name)| name[3..] == *bare)
        .map(|(_, name)| *name)
}

/// The number of a signal given by name (`SIGTERM`, `TERM`) or by number;
/// any number from 1 to 64 is accepted (real-time signals included).
pub fn signal_number(input: &str) -> Option<i32> {
    let trimmed = input.trim();
    if let Ok(number) = trimmed.parse::<i32>() {
        return (1..=64).contains(&number).then_some(number);
    }
    let name = signal_name(trimmed)?;
    SIGNALS.iter().find(|(_, s)| *s == name).map(|(n, _)| *n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_numbers_and_case_agree() {
        assert_eq!(signal_name("SIGTERM"), Some("SIGTERM"));
        assert_eq!(signal_name("term"), Some("SIGTERM"));
        assert_eq!(signal_name("9"), Some("SIGKILL"));
        assert_eq!(signal_name("winch"), Some("SIGWINCH"));
        assert_eq!(signal_name("SIGNOPE"), None);
        assert_eq!(signal_name("7"), None);
        assert_eq!(signal_number("SIGINT"), Some(2));
        assert_eq!(signal_number("cont"), Some(18));
        assert_eq!(signal_number("34"), Some(34));
        assert_eq!(signal_number("0"), None);
        assert_eq!(signal_number("65"), None);
        assert_eq!(signal_number("BOGUS"), None);
    }
}
