//! Interactive console sessions: a shell on a pseudo-terminal, its size, resize and exit code.

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use super::exec::{start_idle, stop};
use super::harness::{base_spec, poll_until, KillOnPanic, PROMPT};
use super::TestImage;
use crate::{ConsoleRequest, ConsoleSession, Driver, TerminalSize};

fn shell_request(size: TerminalSize) -> ConsoleRequest {
    ConsoleRequest {
        argv: vec!["/bin/sh".into()],
        env: vec![
            ("PATH".into(), "/bin:/usr/bin".into()),
            ("TERM".into(), "xterm".into()),
        ],
        size,
    }
}

/// What a session printed so far.
struct Transcript {
    output: std::pin::Pin<Box<dyn AsyncRead + Send>>,
    text: String,
}

impl Transcript {
    /// Reads until `needle` has been printed; false if the output ended or went quiet too long.
    async fn until(&mut self, needle: &str) -> bool {
        let deadline = tokio::time::Instant::now() + PROMPT;
        let mut chunk = [0u8; 4096];
        while !self.text.contains(needle) {
            match tokio::time::timeout_at(deadline, self.output.read(&mut chunk)).await {
                Ok(Ok(n)) if n > 0 => self.text.push_str(&String::from_utf8_lossy(&chunk[..n])),
                _ => return false,
            }
        }
        true
    }

    /// Reads until the output ends (bounded); false if it did not end.
    async fn read_to_end(&mut self) -> bool {
        let mut rest = Vec::new();
        let ended = tokio::time::timeout(PROMPT, self.output.read_to_end(&mut rest)).await;
        self.text.push_str(&String::from_utf8_lossy(&rest));
        matches!(ended, Ok(Ok(_)))
    }
}

async fn exit_code(session_exit: ConsoleSessionExit) -> i32 {
    tokio::time::timeout(PROMPT, session_exit)
        .await
        .expect("the console's command exits promptly once its shell has exited")
        .expect("the console reports the exit code")
}

type ConsoleSessionExit =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<i32, crate::DriverError>> + Send>>;

/// A shell on a console sees its terminal (a `/dev/pts` path) with the size
/// asked for, follows a resize, and its exit code comes back.
pub async fn check_console(driver: &dyn Driver, image: &TestImage) {
    let spec = base_spec(image, &["/bin/sh", "-c", "echo ready; exec sleep 1000"]);
    let task = start_idle(driver, &spec).await;
    let _guard = KillOnPanic(task.handle.pid);

    let size = TerminalSize {
        cols: 101,
        rows: 33,
    };
    let ConsoleSession {
        output,
        mut input,
        resize: _,
        exit,
    } = driver
        .console(&task.handle, shell_request(size))
        .await
        .expect("console");
    let mut transcript = Transcript {
        output,
        text: String::new(),
    };
    input
        .write_all(b"stty size; tty; exit 7\n")
        .await
        .expect("typing into the console");
    let ended = transcript.read_to_end().await;
    assert!(
        ended,
        "the console's output ends with its shell: {:?}",
        transcript.text
    );
    assert!(
        transcript.text.contains("33 101"),
        "stty inside sees the size the console was opened with: {:?}",
        transcript.text
    );
    assert!(
        transcript.text.contains("/dev/pts/"),
        "the shell's terminal is a pseudo-terminal: {:?}",
        transcript.text
    );
    assert_eq!(exit_code(exit).await, 7, "{:?}", transcript.text);

    let session = driver
        .console(&task.handle, shell_request(TerminalSize::default()))
        .await
        .expect("second console");
    let (mut input, resize, exit) = (session.input, session.resize, session.exit);
    let mut transcript = Transcript {
        output: session.output,
        text: String::new(),
    };
    input.write_all(b"stty size\n").await.expect("typing");
    assert!(
        transcript.until("24 80").await,
        "a console opened without a size is 80x24: {:?}",
        transcript.text
    );
    resize
        .resize(TerminalSize {
            cols: 132,
            rows: 43,
        })
        .await
        .expect("resize");
    input
        .write_all(b"stty size; exit 0\n")
        .await
        .expect("typing");
    assert!(transcript.read_to_end().await, "{:?}", transcript.text);
    assert!(
        transcript.text.contains("43 132"),
        "stty sees the new size after a resize: {:?}",
        transcript.text
    );
    assert_eq!(exit_code(exit).await, 0, "{:?}", transcript.text);

    // Dropping a session ends its command: nothing of it is left.
    let session = driver
        .console(&task.handle, shell_request(TerminalSize::default()))
        .await
        .expect("third console");
    let mut input = session.input;
    input.write_all(b"exec sleep 7771\n").await.expect("typing");
    // `ps` inside the Machine (the host's, without isolation) sees the command.
    let sleeping = || async {
        let listing = driver
            .exec(
                &task.handle,
                crate::ExecRequest {
                    argv: vec!["ps".into()],
                    timeout: PROMPT,
                    stdin: None,
                    env: vec![("PATH".into(), "/bin:/usr/bin".into())],
                },
            )
            .await
            .expect("ps through exec");
        String::from_utf8_lossy(&listing.stdout).contains("sleep 7771")
    };
    assert!(
        poll_until(PROMPT, sleeping).await,
        "the console runs what is typed into it"
    );
    drop((input, session.output, session.resize, session.exit));
    let gone = poll_until(PROMPT, || async { !sleeping().await }).await;
    assert!(gone, "a dropped console session's command is killed");
    stop(driver, task).await;
}
