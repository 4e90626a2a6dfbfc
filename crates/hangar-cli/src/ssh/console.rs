//! `hangar ssh console` without `-C` (or with `--pty`): an interactive
//! command on a pseudo-terminal in the Machine, over the console WebSocket.

use std::io::{IsTerminal, Read, Write};

use futures_util::{SinkExt, StreamExt};
use hangar_client::{Client, ConsoleMessage, ConsoleOptions};
use hangar_types::{ConsoleControl, ConsoleSize};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;

use super::terminal::{size_of, RawMode};

/// What ended the session.
enum Ending {
    /// The remote command exited with this code.
    Exited(i32),
    /// The server reported a failure.
    Failed(String),
    /// The connection closed without an exit code.
    Closed,
    /// The CLI got this signal.
    Signal(i32),
}

/// Reads local input on a thread of its own (a blocked read must not hold
/// the runtime up at exit); `None` marks the end of input.
fn spawn_stdin_reader() -> mpsc::Receiver<Option<Vec<u8>>> {
    let (send, receive) = mpsc::channel(16);
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin().lock();
        let mut buffer = [0u8; 8192];
        loop {
            match stdin.read(&mut buffer) {
                Ok(0) | Err(_) => {
                    let _ = send.blocking_send(None);
                    return;
                }
                Ok(n) => {
                    if send.blocking_send(Some(buffer[..n].to_vec())).is_err() {
                        return;
                    }
                }
            }
        }
    });
    receive
}

fn control_text(control: &ConsoleControl) -> ConsoleMessage {
    ConsoleMessage::Text(
        serde_json::to_string(control)
            .expect("control message serializes")
            .into(),
    )
}

/// Runs `command` (the image's shell when `None`) in the Machine on a
/// terminal and returns its exit code.
pub(crate) async fn run(
    client: &Client,
    app: &str,
    machine_id: &str,
    command: Option<String>,
) -> anyhow::Result<i32> {
    let local_terminal = std::io::stdin().is_terminal();
    let size = size_of(libc::STDIN_FILENO)
        .or_else(|| size_of(libc::STDOUT_FILENO))
        .unwrap_or(ConsoleSize { cols: 80, rows: 24 });
    let options = ConsoleOptions {
        command,
        size,
        term: std::env::var("TERM").ok().filter(|t| !t.is_empty()),
    };
    let socket = client
        .open_console(app, machine_id, &options)
        .await
        .map_err(|err| anyhow::anyhow!("opening a console in machine {machine_id}: {err}"))?;
    let raw_mode = if local_terminal {
        Some(RawMode::enable(libc::STDIN_FILENO)?)
    } else {
        None
    };
    let ending = relay(socket).await;
    drop(raw_mode);
    match ending? {
        Ending::Exited(code) => Ok(if (0..=255).contains(&code) { code } else { 1 }),
        Ending::Signal(number) => Ok(128 + number),
        Ending::Failed(reason) => Err(anyhow::anyhow!(
            "the console in machine {machine_id} failed: {reason}"
        )),
        Ending::Closed => Err(anyhow::anyhow!(
            "the console in machine {machine_id} closed without an exit code \
             (the connection to the API was lost)"
        )),
    }
}

/// Local input and resizes out, terminal output in, until the session ends.
async fn relay(socket: hangar_client::ConsoleSocket) -> anyhow::Result<Ending> {
    let (mut to_server, mut from_server) = socket.split();
    let mut input = spawn_stdin_reader();
    let mut input_open = true;
    let mut resized = signal(SignalKind::window_change())?;
    let mut interrupted = signal(SignalKind::interrupt())?;
    let mut terminated = signal(SignalKind::terminate())?;
    let mut hung_up = signal(SignalKind::hangup())?;
    let mut stdout = std::io::stdout();
    let mut ending = Ending::Closed;
    loop {
        tokio::select! {
            message = from_server.next() => match message {
                Some(Ok(ConsoleMessage::Binary(bytes))) => {
                    stdout.write_all(&bytes)?;
                    stdout.flush()?;
                }
                Some(Ok(ConsoleMessage::Text(text))) => {
                    if let Ok(control) = serde_json::from_str::<ConsoleControl>(&text) {
                        if let Some(code) = control.exit {
                            ending = Ending::Exited(code);
                        } else if let Some(reason) = control.error {
                            ending = Ending::Failed(reason);
                        }
                    }
                }
                Some(Ok(ConsoleMessage::Close(_))) | None | Some(Err(_)) => return Ok(ending),
                Some(Ok(_)) => {}
            },
            typed = input.recv(), if input_open => match typed {
                Some(Some(bytes)) => {
                    let _ = to_server.send(ConsoleMessage::Binary(bytes.into())).await;
                }
                _ => {
                    // End of local input (a pipe): end of input for the remote
                    // shell too (Ctrl-D on its terminal).
                    input_open = false;
                    let _ = to_server.send(ConsoleMessage::Binary(vec![4u8].into())).await;
                }
            },
            _ = resized.recv() => {
                if let Some(size) = size_of(libc::STDIN_FILENO).or_else(|| size_of(libc::STDOUT_FILENO)) {
                    let control = ConsoleControl { resize: Some(size), ..ConsoleControl::default() };
                    let _ = to_server.send(control_text(&control)).await;
                }
            }
            _ = interrupted.recv() => return Ok(Ending::Signal(libc::SIGINT)),
            _ = terminated.recv() => return Ok(Ending::Signal(libc::SIGTERM)),
            _ = hung_up.recv() => return Ok(Ending::Signal(libc::SIGHUP)),
        }
    }
}
