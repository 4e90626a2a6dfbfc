//! Control messages of the console WebSocket (a Hangar extension,
//! `GET /v1/apps/{app}/machines/{id}/console`).
//!
//! Binary frames carry terminal bytes both ways; text frames carry one
//! [`ConsoleControl`] each: `{"resize":{"cols":..,"rows":..}}` from the
//! client, `{"exit":N}` (or `{"error":"..."}`) from the server just before
//! it closes the socket.

use serde::{Deserialize, Serialize};

/// A terminal size in character cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsoleSize {
    pub cols: u16,
    pub rows: u16,
}

/// One text frame of the console protocol.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsoleControl {
    /// From the client: the terminal's new size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resize: Option<ConsoleSize>,
    /// From the server: the command's exit code (`128 + n` after signal `n`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit: Option<i32>,
    /// From the server: the session failed; the exit code is unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}
