//! Exec into a running machine, and listing its processes.

use std::time::Duration;

use super::harness::{
    base_spec, poll_until, spawn_line_collector, wait_exit, wait_for_line, KillOnPanic, PROMPT,
};
use super::TestImage;
use crate::{Driver, DriverError, ExecRequest, MachineSpec, StartedTask};

fn exec_request(argv: &[&str]) -> ExecRequest {
    ExecRequest {
        argv: argv.iter().map(|s| s.to_string()).collect(),
        timeout: Duration::from_secs(10),
        stdin: None,
        env: vec![("PATH".into(), "/bin:/usr/bin".into())],
    }
}

pub(super) async fn start_idle(driver: &dyn Driver, spec: &MachineSpec) -> StartedTask {
    let mut task = driver.start(spec).await.expect("start");
    let guard = KillOnPanic(task.handle.pid);
    let stdout = std::mem::replace(&mut task.stdout, Box::pin(tokio::io::empty()));
    let mut lines = spawn_line_collector(stdout);
    wait_for_line(&mut lines, "`ready`", |l| l == "ready").await;
    std::mem::forget(guard);
    task
}

pub(super) async fn stop(driver: &dyn Driver, task: StartedTask) {
    driver.kill(&task.handle).await.expect("kill");
    wait_exit(&task.handle.machine_id, task.exit).await;
    driver.cleanup(&task.handle).await.expect("cleanup");
}

/// Exec reports stdout, stderr and the exit code, feeds stdin and applies env.
pub async fn check_exec(driver: &dyn Driver, image: &TestImage) {
    let spec = base_spec(
        image,
        &[
            "/bin/sh",
            "-c",
            "echo marker > /tmp/from-main; echo ready; exec sleep 1000",
        ],
    );
    let task = start_idle(driver, &spec).await;
    let _guard = KillOnPanic(task.handle.pid);
    let handle = &task.handle;

    let out = driver
        .exec(
            handle,
            exec_request(&["/bin/sh", "-c", "echo out; echo err >&2; exit 3"]),
        )
        .await
        .expect("exec");
    assert_eq!(out.exit_code, 3, "exec exit code: {out:?}");
    assert_eq!(out.stdout, b"out\n", "exec stdout");
    assert_eq!(out.stderr, b"err\n", "exec stderr");

    let out = driver
        .exec(handle, exec_request(&["cat", "/tmp/from-main"]))
        .await
        .expect("exec");
    assert_eq!(
        out.stdout, b"marker\n",
        "exec sees the machine's own filesystem: {out:?}"
    );

    let mut req = exec_request(&["cat"]);
    req.stdin = Some(b"piped input".to_vec());
    let out = driver.exec(handle, req).await.expect("exec with stdin");
    assert_eq!(out.stdout, b"piped input", "exec stdin: {out:?}");

    let mut req = exec_request(&["/bin/sh", "-c", "echo \"$EXEC_VAR\""]);
    req.env.push(("EXEC_VAR".into(), "exec-value".into()));
    let out = driver.exec(handle, req).await.expect("exec with env");
    assert_eq!(out.stdout, b"exec-value\n", "exec env: {out:?}");

    let missing = driver
        .exec(handle, exec_request(&["/no/such/program"]))
        .await;
    match missing {
        Ok(out) => assert_ne!(
            out.exit_code, 0,
            "a missing program cannot succeed: {out:?}"
        ),
        Err(DriverError::ExecFailed { .. }) => {}
        Err(other) => panic!("a missing program should fail the exec clearly, got {other}"),
    }
    stop(driver, task).await;
}

/// An exec running past its timeout is killed and reported as timed out.
pub async fn check_exec_timeout(driver: &dyn Driver, image: &TestImage) {
    let spec = base_spec(image, &["/bin/sh", "-c", "echo ready; exec sleep 1000"]);
    let task = start_idle(driver, &spec).await;
    let _guard = KillOnPanic(task.handle.pid);
    let mut req = exec_request(&["sleep", "60"]);
    req.timeout = Duration::from_millis(300);
    let started = std::time::Instant::now();
    let result = tokio::time::timeout(PROMPT, driver.exec(&task.handle, req))
        .await
        .expect("exec must return promptly after its timeout");
    assert!(
        matches!(result, Err(DriverError::ExecTimedOut { .. })),
        "an exec past its timeout fails with ExecTimedOut, got {result:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "timeout honoured"
    );
    let gone = poll_until(PROMPT, || async {
        let ps = driver.ps(&task.handle).await.expect("ps");
        !ps.iter().any(|p| p.command.contains("sleep 60"))
    })
    .await;
    assert!(gone, "the timed-out exec's process was killed");
    stop(driver, task).await;
}

/// `ps` lists the machine's processes with their commands and listening sockets.
pub async fn check_ps(driver: &dyn Driver, image: &TestImage) {
    let port = free_loopback_port();
    let script = format!("httpd -f -p 127.0.0.1:{port} & sleep 1000 & echo ready; exec sleep 999");
    let spec = base_spec(image, &["/bin/sh", "-c", &script]);
    let task = start_idle(driver, &spec).await;
    let _guard = KillOnPanic(task.handle.pid);
    let listening = poll_until(PROMPT, || async {
        let ps = driver.ps(&task.handle).await.expect("ps");
        ps.iter().any(|p| {
            p.listen_sockets
                .iter()
                .any(|s| s.proto == "tcp" && s.address.ends_with(&format!(":{port}")))
        })
    })
    .await;
    let ps = driver.ps(&task.handle).await.expect("ps");
    assert!(
        listening,
        "ps shows httpd listening on port {port}: {ps:#?}"
    );
    assert!(
        ps.iter().any(|p| p.command == "sleep 999"),
        "ps shows the main process: {ps:#?}"
    );
    assert!(
        ps.iter().any(|p| p.command == "sleep 1000"),
        "ps shows a background process: {ps:#?}"
    );
    let main = ps.iter().find(|p| p.command == "sleep 999").unwrap();
    assert!(main.rss > 0, "ps reports resident memory: {main:?}");
    assert!(main.pid > 0);
    assert!(
        !main.directory.is_empty(),
        "ps reports the working directory: {main:?}"
    );
    stop(driver, task).await;
}

fn free_loopback_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    listener.local_addr().expect("local addr").port()
}
