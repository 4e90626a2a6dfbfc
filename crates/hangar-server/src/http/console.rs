//! `GET /v1/apps/{app}/machines/{id}/console`: an interactive command on a
//! pseudo-terminal in a started Machine, over a WebSocket (a Hangar
//! extension; protocol in `hangar_types::console` and docs/api-deviations.md).
//!
//! The session is started before the upgrade, so an unknown or stopped
//! Machine, or a command that cannot start, is an ordinary JSON error.

use std::sync::Arc;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::response::Response;
use futures_util::{SinkExt, StreamExt};
use hangar_agent::{ConsoleSession, TerminalSize};
use hangar_types::ConsoleControl;
use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::http::error::{HttpError, HttpResult};
use crate::http::extract::ApiQuery;
use crate::platform::ControlPlane;

/// The command when the client names none.
const DEFAULT_SHELL: &str = "/bin/sh";
/// The largest terminal dimension accepted.
const MAX_CELLS: u16 = 4096;

/// Query parameters of the console endpoint.
#[derive(Debug, Deserialize)]
pub struct ConsoleQuery {
    /// The command line, split like a shell would (default `/bin/sh`).
    pub command: Option<String>,
    /// Terminal width (default 80).
    pub cols: Option<u16>,
    /// Terminal height (default 24).
    pub rows: Option<u16>,
    /// `TERM` inside the Machine (default `xterm`).
    pub term: Option<String>,
}

fn terminal_size(query: &ConsoleQuery) -> HttpResult<TerminalSize> {
    let size = TerminalSize {
        cols: query.cols.unwrap_or(80),
        rows: query.rows.unwrap_or(24),
    };
    if !(1..=MAX_CELLS).contains(&size.cols) || !(1..=MAX_CELLS).contains(&size.rows) {
        return Err(HttpError::bad_request(format!(
            "cols and rows must be between 1 and {MAX_CELLS} (got {}x{})",
            size.cols, size.rows
        )));
    }
    Ok(size)
}

/// Opens a console in the Machine and relays it over the WebSocket.
pub async fn console(
    State(cp): State<Arc<ControlPlane>>,
    Path((app, id)): Path<(String, String)>,
    ApiQuery(query): ApiQuery<ConsoleQuery>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> HttpResult<Response> {
    let upgrade = upgrade.map_err(|e| {
        HttpError::bad_request(format!(
            "the console is a WebSocket endpoint: open it with a WebSocket client \
             (`hangar ssh console`) ({})",
            e.body_text()
        ))
    })?;
    let argv = match query.command.as_deref().filter(|c| !c.trim().is_empty()) {
        Some(command) => hangar_config::shell::split(command).map_err(|e| {
            HttpError::bad_request(format!(
                "cannot split command {command:?}: {e}; check its quotes"
            ))
        })?,
        None => vec![DEFAULT_SHELL.to_string()],
    };
    let size = terminal_size(&query)?;
    cp.machine_record(&app, &id).await?;
    let session = cp.agent.console(&id, argv, query.term, size).await?;
    Ok(upgrade.on_upgrade(move |socket| relay(socket, session)))
}

/// Terminal bytes both ways and resizes in, until the command's terminal
/// closes (then its exit code goes out) or the client leaves (then the
/// session is dropped, which kills the command).
async fn relay(socket: WebSocket, session: ConsoleSession) {
    let ConsoleSession {
        mut output,
        mut input,
        resize,
        exit,
    } = session;
    let (mut to_client, mut from_client) = socket.split();
    let forward_output = async {
        let mut buffer = vec![0u8; 16 * 1024];
        loop {
            match output.read(&mut buffer).await {
                Ok(0) | Err(_) => return true,
                Ok(n) => {
                    let frame = Message::Binary(buffer[..n].to_vec().into());
                    if to_client.send(frame).await.is_err() {
                        return false;
                    }
                }
            }
        }
    };
    let forward_input = async {
        while let Some(Ok(message)) = from_client.next().await {
            match message {
                Message::Binary(bytes) => {
                    let typed = input.write_all(&bytes).await;
                    if typed.is_err() {
                        break;
                    }
                }
                Message::Text(text) => match serde_json::from_str::<ConsoleControl>(&text) {
                    Ok(ConsoleControl {
                        resize: Some(size), ..
                    }) => {
                        let size = TerminalSize {
                            cols: size.cols.clamp(1, MAX_CELLS),
                            rows: size.rows.clamp(1, MAX_CELLS),
                        };
                        if let Err(e) = resize.resize(size).await {
                            tracing::debug!(error = %e, "console resize failed");
                        }
                    }
                    _ => tracing::debug!(%text, "ignoring an unknown console control message"),
                },
                Message::Close(_) => break,
                _ => {}
            }
        }
    };
    let output_ended = tokio::select! {
        ended = forward_output => ended,
        () = forward_input => false,
    };
    if !output_ended {
        return;
    }
    let control = match exit.await {
        Ok(code) => ConsoleControl {
            exit: Some(code),
            ..ConsoleControl::default()
        },
        Err(e) => ConsoleControl {
            error: Some(e.to_string()),
            ..ConsoleControl::default()
        },
    };
    let text = serde_json::to_string(&control).expect("control message serializes");
    let _ = to_client.send(Message::Text(text.into())).await;
    let _ = to_client.send(Message::Close(None)).await;
}
