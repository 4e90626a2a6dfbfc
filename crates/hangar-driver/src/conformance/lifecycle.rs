//! Start, output, exit codes, signals, kill, freeze and thaw.

use std::time::Duration;

use super::harness::{
    base_spec, collect_output, poll_until, spawn_line_collector, wait_exit, wait_for_line,
    KillOnPanic, PROMPT,
};
use super::TestImage;
use crate::Driver;

/// A machine's stdout and stderr are captured and its exit code reported.
pub async fn check_output_and_exit_code(driver: &dyn Driver, image: &TestImage) {
    let spec = base_spec(
        image,
        &[
            "/bin/sh",
            "-c",
            "echo hello-stdout; echo hello-stderr >&2; exit 7",
        ],
    );
    let task = driver.start(&spec).await.expect("start");
    let handle = task.handle.clone();
    let _guard = KillOnPanic(handle.pid);
    assert_eq!(
        handle.machine_id, spec.machine_id,
        "handle names the machine"
    );
    assert_eq!(handle.driver, driver.name(), "handle names the driver");
    let output = collect_output(task).await;
    assert_eq!(output.stdout, "hello-stdout\n", "stdout captured");
    assert_eq!(output.stderr, "hello-stderr\n", "stderr captured");
    assert_eq!(
        output.exit.exit_code,
        Some(7),
        "exit code reported: {:?}",
        output.exit
    );
    assert_eq!(output.exit.signal, None);
    assert!(!output.exit.oom_killed);
    driver.cleanup(&handle).await.expect("cleanup");
    driver
        .cleanup(&handle)
        .await
        .expect("cleanup is idempotent");
}

/// A signal reaches the main process, whose trap handles it.
pub async fn check_signal_trap(driver: &dyn Driver, image: &TestImage) {
    let script = "trap 'echo got-term; exit 42' TERM; echo ready; while true; do sleep 0.05; done";
    let spec = base_spec(image, &["/bin/sh", "-c", script]);
    let task = driver.start(&spec).await.expect("start");
    let handle = task.handle.clone();
    let _guard = KillOnPanic(handle.pid);
    let mut lines = spawn_line_collector(task.stdout);
    wait_for_line(&mut lines, "`ready`", |l| l == "ready").await;
    driver.signal(&handle, 15).await.expect("signal SIGTERM");
    let exit = wait_exit(&spec.machine_id, task.exit).await;
    assert_eq!(
        exit.exit_code,
        Some(42),
        "the trap ran and chose the exit code: {exit:?}"
    );
    wait_for_line(&mut lines, "`got-term`", |l| l == "got-term").await;
    driver.cleanup(&handle).await.expect("cleanup");
}

/// Kill ends every process of the machine, including background ones.
pub async fn check_kill(driver: &dyn Driver, image: &TestImage) {
    let script = "trap '' TERM; sleep 1000 & echo ready; sleep 1001";
    let spec = base_spec(image, &["/bin/sh", "-c", script]);
    let task = driver.start(&spec).await.expect("start");
    let handle = task.handle.clone();
    let _guard = KillOnPanic(handle.pid);
    let mut lines = spawn_line_collector(task.stdout);
    wait_for_line(&mut lines, "`ready`", |l| l == "ready").await;
    driver.kill(&handle).await.expect("kill");
    let exit = wait_exit(&spec.machine_id, task.exit).await;
    assert!(
        exit.signal == Some(9) || exit.exit_code == Some(137),
        "a killed machine reports SIGKILL: {exit:?}"
    );
    assert!(!exit.oom_killed, "a kill is not an OOM kill");
    driver.cleanup(&handle).await.expect("cleanup");
}

/// A frozen machine makes no progress; a thawed one continues.
pub async fn check_freeze_thaw(driver: &dyn Driver, image: &TestImage) {
    let script = "i=0; while true; do i=$((i+1)); echo $i; sleep 0.02; done";
    let spec = base_spec(image, &["/bin/sh", "-c", script]);
    let task = driver.start(&spec).await.expect("start");
    let handle = task.handle.clone();
    let _guard = KillOnPanic(handle.pid);
    let mut lines = spawn_line_collector(task.stdout);
    wait_for_line(&mut lines, "a counter line", |l| l == "3").await;

    driver.freeze(&handle).await.expect("freeze");
    // Lines already in the pipe may still arrive; wait until the count is stable.
    let mut last = lines.borrow().len();
    let settled = poll_until(PROMPT, || {
        let now = lines.borrow().len();
        let stable = now == last;
        last = now;
        async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            stable
        }
    })
    .await;
    assert!(settled, "a frozen machine kept printing");
    let frozen_count = lines.borrow().len();
    // Observe the absence of progress over a fixed window (many loop iterations long).
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        lines.borrow().len(),
        frozen_count,
        "a frozen machine made progress"
    );

    driver.thaw(&handle).await.expect("thaw");
    let resumed = poll_until(PROMPT, || {
        let n = lines.borrow().len();
        async move { n > frozen_count + 5 }
    })
    .await;
    assert!(resumed, "a thawed machine made no progress");

    driver.kill(&handle).await.expect("kill");
    wait_exit(&spec.machine_id, task.exit).await;
    driver.cleanup(&handle).await.expect("cleanup");
}

/// A main process killed by an unhandled signal is reported with that signal.
pub async fn check_signal_terminates(driver: &dyn Driver, image: &TestImage) {
    let spec = base_spec(image, &["/bin/sh", "-c", "echo ready; exec sleep 1000"]);
    let task = driver.start(&spec).await.expect("start");
    let handle = task.handle.clone();
    let _guard = KillOnPanic(handle.pid);
    let mut lines = spawn_line_collector(task.stdout);
    wait_for_line(&mut lines, "`ready`", |l| l == "ready").await;
    driver.signal(&handle, 15).await.expect("signal SIGTERM");
    let exit = wait_exit(&spec.machine_id, task.exit).await;
    assert!(
        exit.signal == Some(15) || exit.exit_code == Some(143),
        "a process killed by SIGTERM reports it: {exit:?}"
    );
    driver.cleanup(&handle).await.expect("cleanup");
    let after = driver.signal(&handle, 15).await;
    assert!(
        after.is_err(),
        "signalling an exited machine is an error, got {after:?}"
    );
}
