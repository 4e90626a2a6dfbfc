//! The signals a Machine can be sent, by name and number (Linux numbering,
//! the same on x86_64 and aarch64), shared by the agent, the API and the CLI.
//!
//! A signal is written as its name (`SIGTERM`, `TERM`, `term`: the `SIG`
//! prefix and the case are optional) or as a number from 1 to 64 (the
//! real-time signals 32–64 have no name here).

use std::fmt;

/// Every signal Hangar knows by name, with its number: Linux's standard
/// signals (the POSIX set, `SIGWINCH`, `SIGSTKFLT`, `SIGIO` and `SIGPWR`).
pub const SIGNALS: [(i32, &str); 31] = [
    (1, "SIGHUP"),
    (2, "SIGINT"),
    (3, "SIGQUIT"),
    (4, "SIGILL"),
    (5, "SIGTRAP"),
    (6, "SIGABRT"),
    (7, "SIGBUS"),
    (8, "SIGFPE"),
    (9, "SIGKILL"),
    (10, "SIGUSR1"),
    (11, "SIGSEGV"),
    (12, "SIGUSR2"),
    (13, "SIGPIPE"),
    (14, "SIGALRM"),
    (15, "SIGTERM"),
    (16, "SIGSTKFLT"),
    (17, "SIGCHLD"),
    (18, "SIGCONT"),
    (19, "SIGSTOP"),
    (20, "SIGTSTP"),
    (21, "SIGTTIN"),
    (22, "SIGTTOU"),
    (23, "SIGURG"),
    (24, "SIGXCPU"),
    (25, "SIGXFSZ"),
    (26, "SIGVTALRM"),
    (27, "SIGPROF"),
    (28, "SIGWINCH"),
    (29, "SIGIO"),
    (30, "SIGPWR"),
    (31, "SIGSYS"),
];

/// The numbers a signal may have (1 to `SIGRTMAX`).
pub const SIGNAL_NUMBERS: std::ops::RangeInclusive<i32> = 1..=64;

/// The `SIG…` name of signal `number`, if it has one.
pub fn name_of(number: i32) -> Option<&'static str> {
    SIGNALS
        .iter()
        .find(|(n, _)| *n == number)
        .map(|(_, name)| *name)
}

/// The `SIG…` name of a signal given by name (`SIGTERM`, `term`) or by the
/// number of a named signal (`15`); `None` when it is not one of
/// [`SIGNALS`].
pub fn signal_name(input: &str) -> Option<&'static str> {
    let trimmed = input.trim();
    if let Ok(number) = trimmed.parse::<i32>() {
        return name_of(number);
    }
    let upper = trimmed.to_ascii_uppercase();
    let bare = upper.strip_prefix("SIG").unwrap_or(&upper);
    SIGNALS
        .iter()
        .find(|(_, name)| name[3..] == *bare)
        .map(|(_, name)| *name)
}

/// The number of a signal given by name (`SIGTERM`, `TERM`) or by number;
/// any number in [`SIGNAL_NUMBERS`] is accepted (real-time signals included).
pub fn signal_number(input: &str) -> Option<i32> {
    let trimmed = input.trim();
    if let Ok(number) = trimmed.parse::<i32>() {
        return SIGNAL_NUMBERS.contains(&number).then_some(number);
    }
    let name = signal_name(trimmed)?;
    SIGNALS.iter().find(|(_, s)| *s == name).map(|(n, _)| *n)
}

/// A signal as the API takes it: its `SIG…` name when it has one, else its
/// number (`"34"`). Accepts what [`signal_number`] accepts.
pub fn canonical_signal(input: &str) -> Result<String, UnknownSignal> {
    let number = signal_number(input).ok_or_else(|| UnknownSignal {
        input: input.to_string(),
    })?;
    Ok(name_of(number).map_or_else(|| number.to_string(), str::to_string))
}

/// A signal that is neither a known name nor a number from 1 to 64; its
/// message lists what is accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown signal {input:?}: use {}", AcceptedSignals)]
pub struct UnknownSignal {
    /// What was given.
    pub input: String,
}

/// Displays every accepted way of writing a signal, for error messages.
pub struct AcceptedSignals;

impl fmt::Display for AcceptedSignals {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = SIGNALS.iter().map(|(_, name)| *name).collect();
        write!(
            f,
            "one of {} (the SIG prefix and case are optional), or a number from {} to {}",
            names.join(", "),
            SIGNAL_NUMBERS.start(),
            SIGNAL_NUMBERS.end()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_numbers_and_case_agree() {
        assert_eq!(signal_name("SIGTERM"), Some("SIGTERM"));
        assert_eq!(signal_name("term"), Some("SIGTERM"));
        assert_eq!(signal_name(" Sigint "), Some("SIGINT"));
        assert_eq!(signal_name("9"), Some("SIGKILL"));
        assert_eq!(signal_name("winch"), Some("SIGWINCH"));
        assert_eq!(signal_name("SIGNOPE"), None);
        assert_eq!(signal_name("SIG"), None);
        assert_eq!(signal_name("34"), None, "real-time signals have no name");
        assert_eq!(signal_number("SIGINT"), Some(2));
        assert_eq!(signal_number("cont"), Some(18));
        assert_eq!(signal_number("34"), Some(34));
        assert_eq!(signal_number("0"), None);
        assert_eq!(signal_number("65"), None);
        assert_eq!(signal_number("-9"), None);
        assert_eq!(signal_number("BOGUS"), None);
    }

    #[test]
    fn the_usual_posix_signals_are_known_by_their_linux_numbers() {
        for (name, number) in [
            ("SIGHUP", 1),
            ("SIGQUIT", 3),
            ("SIGABRT", 6),
            ("SIGBUS", 7),
            ("SIGUSR1", 10),
            ("SIGUSR2", 12),
            ("SIGALRM", 14),
            ("SIGCHLD", 17),
            ("SIGSTOP", 19),
            ("SIGTSTP", 20),
            ("SIGTTIN", 21),
            ("SIGTTOU", 22),
            ("SIGURG", 23),
            ("SIGXCPU", 24),
            ("SIGXFSZ", 25),
            ("SIGVTALRM", 26),
            ("SIGPROF", 27),
            ("SIGSYS", 31),
        ] {
            assert_eq!(signal_number(name), Some(number), "{name}");
            assert_eq!(name_of(number), Some(name), "{number}");
        }
    }

    #[test]
    fn the_table_round_trips() {
        for (number, name) in SIGNALS {
            assert!(name.starts_with("SIG"), "{name}");
            assert_eq!(signal_number(name), Some(number));
            assert_eq!(signal_number(&name[3..].to_lowercase()), Some(number));
            assert_eq!(signal_name(&number.to_string()), Some(name));
        }
        let numbers: Vec<i32> = SIGNALS.iter().map(|(n, _)| *n).collect();
        assert_eq!(numbers, (1..=31).collect::<Vec<_>>(), "one name per number");
    }

    #[test]
    fn every_deliverable_signal_has_a_canonical_spelling() {
        assert_eq!(canonical_signal("term").unwrap(), "SIGTERM");
        assert_eq!(canonical_signal("19").unwrap(), "SIGSTOP");
        assert_eq!(canonical_signal("34").unwrap(), "34");
        assert_eq!(canonical_signal("64").unwrap(), "64");
        for number in SIGNAL_NUMBERS {
            let spelled = canonical_signal(&number.to_string()).unwrap();
            assert_eq!(signal_number(&spelled), Some(number), "{spelled}");
        }
    }

    #[test]
    fn unknown_signals_are_refused_with_the_accepted_names() {
        for bad in ["SIGNOPE", "0", "65", "", "9x"] {
            let error = canonical_signal(bad).unwrap_err();
            let message = error.to_string();
            assert!(message.contains(&format!("{bad:?}")), "{message}");
            for (_, name) in SIGNALS {
                assert!(message.contains(name), "{name} missing from: {message}");
            }
            assert!(message.contains("from 1 to 64"), "{message}");
        }
    }
}
