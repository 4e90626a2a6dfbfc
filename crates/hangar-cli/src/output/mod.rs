//! How commands print: tables and detail lists for people, raw JSON with
//! `--json`. Styling (bold headers) only when stdout is a terminal and
//! `NO_COLOR` is unset; piped output is plain text.

mod details;
mod table;

use std::io::{IsTerminal, Write};

pub use details::Details;
pub use table::Table;

/// Where and how a command prints its results.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    json: bool,
    styled: bool,
}

impl Output {
    /// Output for the process's stdout.
    pub fn for_stdout(json: bool) -> Self {
        let styled = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        Output { json, styled }
    }

    /// Whether `--json` was given.
    pub fn is_json(&self) -> bool {
        self.json
    }

    /// Prints `value` as pretty JSON.
    pub fn json<T: serde::Serialize + ?Sized>(&self, value: &T) -> anyhow::Result<()> {
        let mut text = serde_json::to_string_pretty(value)?;
        text.push('\n');
        write_stdout(&text)
    }

    /// Prints `value` as one line of JSON (for streams).
    pub fn json_line<T: serde::Serialize + ?Sized>(&self, value: &T) -> anyhow::Result<()> {
        let mut text = serde_json::to_string(value)?;
        text.push('\n');
        write_stdout(&text)
    }

    /// Prints a table.
    pub fn table(&self, table: &Table) -> anyhow::Result<()> {
        write_stdout(&table.render(self.styled))
    }

    /// Prints a detail list.
    pub fn details(&self, details: &Details) -> anyhow::Result<()> {
        write_stdout(&details.render(self.styled))
    }

    /// Prints one line of text to stdout.
    pub fn line(&self, text: impl std::fmt::Display) -> anyhow::Result<()> {
        write_stdout(&format!("{text}\n"))
    }

    /// Prints a progress note to stderr, so it never mixes with results.
    pub fn note(&self, text: impl std::fmt::Display) {
        let _ = writeln!(std::io::stderr().lock(), "{text}");
    }
}

/// Writes to stdout; a closed pipe (`hangar … | head`) is not an error.
pub fn write_stdout(text: &str) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => Ok(()),
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(err) => Err(anyhow::anyhow!("cannot write to stdout: {err}")),
    }
}

/// Makes server-provided text safe for one table cell: control characters
/// (including escape sequences and newlines) become spaces.
pub(crate) fn sanitize_cell(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

const BOLD: &str = "\x1b[1m";
const RESET: &str = "\x1b[0m";
