//! Asking before destroying things.

use std::io::{BufRead, IsTerminal, Write};

/// The answer to a destructive command's question.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Confirmation {
    /// `--yes` was given, or the user said yes.
    Yes,
    /// The user said no.
    Declined,
    /// No terminal to ask on, and no `--yes`.
    CannotAsk,
}

/// Asks `question` on the terminal unless `yes` is already given.
pub(crate) fn confirm(yes: bool, question: &str) -> anyhow::Result<Confirmation> {
    if yes {
        return Ok(Confirmation::Yes);
    }
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Ok(Confirmation::CannotAsk);
    }
    let mut stderr = std::io::stderr().lock();
    write!(stderr, "{question} [y/N] ")?;
    stderr.flush()?;
    let mut answer = String::new();
    stdin.lock().read_line(&mut answer)?;
    Ok(
        if matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
            Confirmation::Yes
        } else {
            Confirmation::Declined
        },
    )
}
