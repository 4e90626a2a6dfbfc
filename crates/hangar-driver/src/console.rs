//! Interactive sessions inside a Machine: a command on a pseudo-terminal.

use std::future::Future;
use std::pin::Pin;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::DriverError;

/// The size of a terminal, in character cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TerminalSize {
    pub cols: u16,
    pub rows: u16,
}

impl Default for TerminalSize {
    /// The classic 80×24.
    fn default() -> Self {
        TerminalSize { cols: 80, rows: 24 }
    }
}

/// A command to run inside a running Machine on a fresh pseudo-terminal.
#[derive(Debug, Clone)]
pub struct ConsoleRequest {
    pub argv: Vec<String>,
    /// Environment of the command (the driver adds nothing; `TERM` included).
    pub env: Vec<(String, String)>,
    /// The terminal's size when the command starts.
    pub size: TerminalSize,
}

/// Changes the size of a running session's terminal.
#[async_trait::async_trait]
pub trait ConsoleResize: Send + Sync {
    /// Sets the terminal's size; the command gets `SIGWINCH`.
    async fn resize(&self, size: TerminalSize) -> Result<(), DriverError>;
}

/// A running console session.
///
/// `output` carries everything the command writes to its terminal (echo
/// included) and ends once no process holds the terminal any more; `exit`
/// resolves with the command's exit code (`128 + n` when killed by signal
/// `n`). Dropping the session hangs the terminal up and kills the command.
pub struct ConsoleSession {
    pub output: Pin<Box<dyn AsyncRead + Send>>,
    /// Bytes typed on the terminal.
    pub input: Pin<Box<dyn AsyncWrite + Send>>,
    pub resize: Box<dyn ConsoleResize>,
    pub exit: Pin<Box<dyn Future<Output = Result<i32, DriverError>> + Send>>,
}

impl std::fmt::Debug for ConsoleSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsoleSession").finish_non_exhaustive()
    }
}
