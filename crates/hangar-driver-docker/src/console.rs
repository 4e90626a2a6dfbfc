//! Docker exec with a TTY: an interactive console session.

use std::pin::Pin;
use std::task::{Context, Poll};

use bollard::exec::{ResizeExecOptions, StartExecOptions, StartExecResults};
use bollard::models::ExecConfig;
use bollard::Docker;
use futures_util::{Stream, StreamExt};
use hangar_driver::{ConsoleRequest, ConsoleResize, ConsoleSession, DriverError, TerminalSize};
use tokio::sync::oneshot;
use tokio_util::io::StreamReader;

use crate::client::{container_error, message};
use crate::exec::{exit_code, kill_exec};

/// Starts `req` in `container_id` on a TTY of the requested size.
pub(crate) async fn start(
    docker: &Docker,
    machine_id: &str,
    container_id: &str,
    req: ConsoleRequest,
) -> Result<ConsoleSession, DriverError> {
    let failed = |reason: String| DriverError::ExecFailed {
        machine_id: machine_id.to_owned(),
        reason,
    };
    if req.argv.is_empty() {
        return Err(failed("no command given".into()));
    }
    let created = docker
        .create_exec(
            container_id,
            ExecConfig {
                attach_stdin: Some(true),
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                tty: Some(true),
                console_size: Some(vec![req.size.rows.into(), req.size.cols.into()]),
                env: Some(req.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
                cmd: Some(req.argv.clone()),
                ..Default::default()
            },
        )
        .await
        .map_err(|e| container_error(machine_id, "create exec", &e))?;
    let exec_id = created.id;
    let started = docker
        .start_exec(
            &exec_id,
            Some(StartExecOptions {
                detach: false,
                tty: true,
                output_capacity: None,
            }),
        )
        .await
        .map_err(|e| failed(message(&e)))?;
    let StartExecResults::Attached { output, input } = started else {
        return Err(failed("the daemon did not attach to the exec".into()));
    };
    let resize = ExecResize {
        docker: docker.clone(),
        exec_id: exec_id.clone(),
    };
    // Daemons before API 1.42 ignore the initial console size.
    resize.resize(req.size).await?;

    let (ended, output_ended) = oneshot::channel();
    let output = NotifyOnEnd {
        inner: output.map(|chunk| chunk.map(|c| c.into_bytes()).map_err(std::io::Error::other)),
        ended: Some(ended),
    };
    let mut guard = KillExecOnDrop {
        docker: docker.clone(),
        exec_id: exec_id.clone(),
        armed: true,
    };
    let docker = docker.clone();
    let machine_id = machine_id.to_owned();
    Ok(ConsoleSession {
        output: Box::pin(StreamReader::new(output)),
        input,
        resize: Box::new(resize),
        exit: Box::pin(async move {
            let _ = output_ended.await;
            let code = exit_code(&docker, &exec_id).await;
            if code.is_some() {
                guard.disarm();
            }
            code.ok_or_else(|| DriverError::ExecFailed {
                machine_id,
                reason: "the daemon did not report the console's exit code".into(),
            })
        }),
    })
}

/// Resizes the exec's TTY.
struct ExecResize {
    docker: Docker,
    exec_id: String,
}

#[async_trait::async_trait]
impl ConsoleResize for ExecResize {
    async fn resize(&self, size: TerminalSize) -> Result<(), DriverError> {
        self.docker
            .resize_exec(
                &self.exec_id,
                ResizeExecOptions {
                    height: size.rows,
                    width: size.cols,
                },
            )
            .await
            .map_err(|e| DriverError::ExecFailed {
                machine_id: self.exec_id.clone(),
                reason: format!("resizing the console: {}", message(&e)),
            })
    }
}

/// The exec's output; tells the exit future when it has ended.
struct NotifyOnEnd<S> {
    inner: S,
    ended: Option<oneshot::Sender<()>>,
}

impl<S: Stream + Unpin> Stream for NotifyOnEnd<S> {
    type Item = S::Item;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        let next = self.inner.poll_next_unpin(cx);
        if let Poll::Ready(None) = next {
            if let Some(ended) = self.ended.take() {
                let _ = ended.send(());
            }
        }
        next
    }
}

/// Docker keeps an exec running when its client goes away: a session
/// dropped before its command exited kills the command.
struct KillExecOnDrop {
    docker: Docker,
    exec_id: String,
    armed: bool,
}

impl KillExecOnDrop {
    /// The command has exited: there is nothing left to kill.
    fn disarm(&mut self) {
        self.armed = false;
    }
}

impl Drop for KillExecOnDrop {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let (docker, exec_id) = (self.docker.clone(), self.exec_id.clone());
            runtime.spawn(async move { kill_exec(&docker, &exec_id).await });
        }
    }
}
