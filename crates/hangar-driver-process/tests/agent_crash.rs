//! Machines outlive a crashed agent, and a new agent's `recover` cleans them up.
//!
//! The "agent" is this test binary re-executed with `HANGAR_CRASH_AGENT` set:
//! it starts a machine, prints the handle and waits to be killed with SIGKILL.

mod common;

use std::io::BufRead;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hangar_driver::conformance::{base_spec, TestImage};
use hangar_driver::{Driver, TaskHandle};

const AGENT_ROLE: &str = "HANGAR_CRASH_AGENT";
const HANDLE_PREFIX: &str = "HANDLE ";

/// The crashing agent's body; a no-op unless re-executed by `machines_survive_agent_crash`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_agent_role() {
    let Ok(layers) = std::env::var(AGENT_ROLE) else {
        return;
    };
    let fixture = common::busybox_image();
    let image = TestImage {
        layers: std::env::split_paths(&layers).collect(),
    };
    let driver = common::driver(&fixture);
    let spec = base_spec(&image, &["/bin/sh", "-c", "sleep 1000 & exec sleep 1001"]);
    let task = driver.start(&spec).await.expect("start");
    println!(
        "{HANDLE_PREFIX}{}",
        serde_json::to_string(&task.handle).unwrap()
    );
    // Wait for the SIGKILL (bounded, so an orphaned helper cannot linger).
    tokio::time::sleep(Duration::from_secs(60)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn machines_survive_agent_crash_and_recover_cleans_up() {
    if common::skip_unless_root_with_busybox("machines_survive_agent_crash_and_recover_cleans_up") {
        return;
    }
    let fixture = common::busybox_image();
    let layers = std::env::join_paths(&fixture.image.layers).unwrap();
    let mut agent = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "crash_agent_role",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env(AGENT_ROLE, layers)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the agent process");
    let stdout = std::io::BufReader::new(agent.stdout.take().unwrap());
    // libtest prints `test crash_agent_role ... ` before the test's own output.
    let handle_line = stdout.lines().map_while(Result::ok).find_map(|line| {
        line.split_once(HANDLE_PREFIX)
            .map(|(_, json)| json.to_owned())
    });
    // SIGKILL: the agent gets no chance to clean up.
    agent.kill().unwrap();
    agent.wait().unwrap();
    let handle: TaskHandle =
        serde_json::from_str(&handle_line.expect("the agent printed a handle")).unwrap();

    let alive = |pid: u32| std::path::Path::new(&format!("/proc/{pid}")).exists();
    assert!(alive(handle.pid), "the machine outlives its agent");

    let driver = common::driver(&fixture);
    let resources = driver.host_resources(&handle).unwrap();
    driver.recover(&handle).await.expect("recover");
    let deadline = Instant::now() + common::PROMPT;
    while alive(handle.pid) {
        assert!(Instant::now() < deadline, "the machine survived recover");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for path in resources {
        assert!(!path.exists(), "{} survived recover", path.display());
    }
}

/// An agent that dies after starting a networked machine but before it
/// records the handle boots the machine again once restarted: the new start
/// takes over the machine's veth and address instead of failing on the
/// survivor's, and the survivor is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_whose_handle_was_lost_does_not_block_the_next_one() {
    if common::skip_unless_root_with_busybox(
        "a_start_whose_handle_was_lost_does_not_block_the_next_one",
    ) {
        return;
    }
    let fixture = common::busybox_image();
    let mut spec = base_spec(&fixture.image, &["/bin/sh", "-c", "exec sleep 1000"]);
    spec.network = Some(common::network(51));
    let lost = common::driver(&fixture)
        .start(&spec)
        .await
        .expect("first start");
    let lost_pid = lost.handle.pid;
    drop(lost);

    // The restarted agent: a new driver on the same state directory.
    let driver = common::driver(&fixture);
    let task = driver
        .start(&spec)
        .await
        .expect("the second start takes over the machine's veth and address");
    // A zombie counts as gone: this test process is the lost task's parent.
    let alive = |pid: u32| {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z"))
    };
    let deadline = Instant::now() + common::PROMPT;
    while alive(lost_pid) {
        assert!(
            Instant::now() < deadline,
            "the task whose handle was lost survived the new start"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    driver.kill(&task.handle).await.expect("kill");
    let _ = tokio::time::timeout(common::PROMPT, task.exit).await;
    driver.cleanup(&task.handle).await.expect("cleanup");
}
