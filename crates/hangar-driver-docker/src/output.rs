//! A container's output streams and its exit, in the shapes of [`StartedTask`].
//!
//! [`StartedTask`]: hangar_driver::StartedTask

use std::future::Future;
use std::pin::Pin;

use bollard::container::LogOutput;
use bollard::errors::Error as DockerError;
use bollard::query_parameters::{InspectContainerOptions, WaitContainerOptionsBuilder};
use bollard::Docker;
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use hangar_driver::ExitInfo;
use tokio::io::AsyncRead;
use tokio::sync::mpsc;

/// How long a SIGKILL exit waits for the daemon to flag an OOM kill.
const OOM_FLAG_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

type Reader = Pin<Box<dyn AsyncRead + Send>>;

/// An `AsyncRead` fed by a channel; it ends when every sender is gone.
fn channel_reader(rx: mpsc::UnboundedReceiver<Bytes>) -> Reader {
    let chunks = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<_, std::io::Error>(b), rx))
    });
    Box::pin(tokio_util::io::StreamReader::new(chunks))
}

/// Splits an attach stream into stdout and stderr readers that end when the
/// container's output ends. Unread output is buffered, never blocking the
/// other stream.
pub(crate) fn split_attach(
    mut output: Pin<Box<dyn Stream<Item = Result<LogOutput, DockerError>> + Send>>,
) -> (Reader, Reader) {
    let (out_tx, out_rx) = mpsc::unbounded_channel();
    let (err_tx, err_rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(Ok(chunk)) = output.next().await {
            match chunk {
                LogOutput::StdOut { message } | LogOutput::Console { message } => {
                    let _ = out_tx.send(message);
                }
                LogOutput::StdErr { message } => {
                    let _ = err_tx.send(message);
                }
                LogOutput::StdIn { .. } => {}
            }
        }
    });
    (channel_reader(out_rx), channel_reader(err_rx))
}

/// Resolves once the container has stopped, with its exit code and OOM flag.
///
/// The wait runs in the background from the moment this is called, so the
/// exit is observed even if the future is polled late.
pub(crate) fn exit_future(
    docker: Docker,
    container_id: String,
) -> Pin<Box<dyn Future<Output = ExitInfo> + Send>> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let options = WaitContainerOptionsBuilder::default()
            .condition("not-running")
            .build();
        let waited = docker
            .wait_container(&container_id, Some(options))
            .next()
            .await;
        let mut exit_code = match waited {
            Some(Ok(response)) => Some(response.status_code as i32),
            Some(Err(DockerError::DockerContainerWaitError { code, .. })) => Some(code as i32),
            _ => None,
        };
        let mut oom_killed = false;
        // The daemon may record the exit before it processes the kernel's
        // OOM event: a SIGKILL exit (137) without the flag is looked at
        // again for a short, bounded while.
        let deadline = tokio::time::Instant::now() + OOM_FLAG_WAIT;
        loop {
            if let Ok(info) = docker
                .inspect_container(&container_id, None::<InspectContainerOptions>)
                .await
            {
                if let Some(state) = info.state {
                    oom_killed = state.oom_killed.unwrap_or(false);
                    if exit_code.is_none() {
                        exit_code = state.exit_code.map(|c| c as i32);
                    }
                }
            }
            if oom_killed || exit_code != Some(137) || tokio::time::Instant::now() >= deadline {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let _ = tx.send(ExitInfo {
            exit_code,
            signal: None,
            oom_killed,
        });
    });
    Box::pin(async move { rx.await.unwrap_or_default() })
}
