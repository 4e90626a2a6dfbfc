//! `hangar ssh console` as a user runs it: an interactive shell in a
//! Machine, driven from a real pseudo-terminal (size, resize, Ctrl-C, raw
//! mode restored, the remote exit code).

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hangar_client::{ClientError, ConsoleOptions};
use hangar_testbed::wait_until;
use hangar_types::{ConsoleSize, ExecRequest, MachineState};

use crate::support::*;

const BOUND: Duration = Duration::from_secs(30);

/// A pseudo-terminal pair of `rows`×`cols`: (master, terminal side).
fn open_pty(rows: u16, cols: u16) -> (OwnedFd, OwnedFd) {
    let (mut master, mut slave) = (-1, -1);
    let size = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: openpty writes two descriptors; the name and termios pointers may be null.
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            &size,
        )
    };
    assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: openpty just opened both descriptors for this process.
    unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) }
}

fn set_size(fd: &OwnedFd, rows: u16, cols: u16) {
    let size = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads one winsize from a valid pointer.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSWINSZ, &size) };
    assert_eq!(rc, 0, "TIOCSWINSZ");
}

/// Whether the terminal is in canonical (cooked) mode.
fn canonical(fd: &OwnedFd) -> bool {
    // SAFETY: termios is plain data that tcgetattr fills in.
    let mut termios: libc::termios = unsafe { std::mem::zeroed() };
    // SAFETY: valid descriptor and pointer.
    assert_eq!(unsafe { libc::tcgetattr(fd.as_raw_fd(), &mut termios) }, 0);
    termios.c_lflag & libc::ICANON != 0
}

/// Everything the CLI printed on the terminal so far, collected by a thread.
fn collect(master: &OwnedFd) -> Arc<Mutex<String>> {
    let seen = Arc::new(Mutex::new(String::new()));
    let mut reader = std::fs::File::from(master.try_clone().expect("dup master"));
    let sink = seen.clone();
    std::thread::spawn(move || {
        let mut buffer = [0u8; 4096];
        while let Ok(n) = reader.read(&mut buffer) {
            if n == 0 {
                break;
            }
            sink.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buffer[..n]));
        }
    });
    seen
}

async fn wait_for(seen: &Arc<Mutex<String>>, what: &str, needle: &str) {
    wait_until(what, BOUND, || {
        seen.lock().unwrap().contains(needle).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssh_console_is_an_interactive_shell_on_a_terminal() {
    if hangar_testbed::skip_unless_root("ssh_console_is_an_interactive_shell_on_a_terminal") {
        return;
    }
    let tb = testbed().await;
    let Some(image) = http_image(&tb, "console") else {
        return;
    };
    create_app(&tb, "consoleapp").await;
    let machine = create_machine(&tb, "consoleapp", config(&image.reference)).await;
    wait_state(&tb, "consoleapp", &machine.id, MachineState::Started).await;

    let (master, terminal) = open_pty(31, 97);
    let stdio = || Stdio::from(terminal.try_clone().expect("dup terminal"));
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_hangar"));
    command
        .args(["ssh", "console", "-a", "consoleapp"])
        .env("HANGAR_API_URL", &tb.platform.url)
        .env("HANGAR_API_TOKEN", &tb.platform.token)
        .env("TERM", "xterm")
        .env("NO_COLOR", "1")
        .stdin(stdio())
        .stdout(stdio())
        .stderr(stdio());
    // SAFETY: setsid and ioctl are plain system calls, safe between fork and exec.
    unsafe {
        command.pre_exec(|| {
            if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut cli = command.spawn().expect("spawn hangar ssh console");
    let seen = collect(&master);
    let mut keyboard = std::fs::File::from(master.try_clone().expect("dup master"));
    let mut type_line = |line: &str| {
        keyboard
            .write_all(format!("{line}\r").as_bytes())
            .expect("typing");
        keyboard.flush().expect("typing");
    };

    wait_for(&seen, "the remote shell's prompt", "# ").await;
    assert!(
        !canonical(&terminal),
        "the local terminal is in raw mode during the session"
    );
    type_line("stty size; echo marker-$((6*7))");
    wait_for(&seen, "the marker", "marker-42").await;
    assert!(
        seen.lock().unwrap().contains("31 97"),
        "the remote terminal has the local size: {}",
        seen.lock().unwrap()
    );

    // Ctrl-C reaches the remote command, not the CLI.
    type_line("sleep 300");
    hangar_testbed::wait_until_async("the remote sleep to run", BOUND, || async {
        let ps = tb
            .client
            .exec_machine(
                "consoleapp",
                &machine.id,
                &ExecRequest {
                    command: vec!["ps".into()],
                    ..ExecRequest::default()
                },
            )
            .await
            .map_err(|e| e.to_string())?;
        if ps.stdout.contains("sleep 300") {
            Ok(())
        } else {
            Err(ps.stdout)
        }
    })
    .await;
    type_line("\u{3}");
    type_line("echo after-$((1+1))");
    wait_for(&seen, "the shell to be back after Ctrl-C", "after-2").await;

    // A resize of the local terminal reaches the remote one.
    set_size(&terminal, 45, 120);
    // SAFETY: signalling our own child.
    unsafe { libc::kill(cli.id() as i32, libc::SIGWINCH) };
    type_line(
        "until test \"$(stty size)\" = \"45 120\"; do sleep 0.05; done; stty size; echo resized-$((2*3))",
    );
    wait_for(
        &seen,
        "the remote terminal to follow the resize",
        "resized-6",
    )
    .await;

    type_line("exit 3");
    let status = wait_until("the CLI to exit", BOUND, || {
        cli.try_wait().expect("try_wait")
    })
    .await;
    assert_eq!(
        status.code(),
        Some(3),
        "the CLI exits with the remote exit code: {}",
        seen.lock().unwrap()
    );
    assert!(
        canonical(&terminal),
        "the local terminal's mode is restored after the session"
    );
    drop(terminal);

    // Errors come back before any terminal exists, as API errors.
    let options = ConsoleOptions {
        command: None,
        size: ConsoleSize { cols: 80, rows: 24 },
        term: None,
    };
    match tb
        .client
        .open_console("consoleapp", "nosuchmachine", &options)
        .await
    {
        Err(ClientError::Api { status: 404, .. }) => {}
        other => panic!("an unknown machine is a 404: {:?}", other.err()),
    }
    tb.client
        .stop_machine("consoleapp", &machine.id, None)
        .await
        .expect("stop");
    wait_state(&tb, "consoleapp", &machine.id, MachineState::Stopped).await;
    match tb
        .client
        .open_console("consoleapp", &machine.id, &options)
        .await
    {
        Err(ClientError::Api {
            status: 412,
            message,
        }) => {
            assert!(message.contains("stopped"), "{message}")
        }
        other => panic!("a stopped machine is refused: {:?}", other.err()),
    }
    tb.stop().await;
}
