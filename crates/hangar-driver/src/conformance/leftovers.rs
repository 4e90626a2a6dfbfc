//! After cleanup or recovery nothing of a machine remains on the host.

use super::harness::{
    base_spec, poll_until, spawn_line_collector, wait_exit, wait_for_line, KillOnPanic, PROMPT,
};
use super::TestImage;
use crate::{Driver, MachineSpec, TaskHandle};

const TOKEN_VAR: &str = "HANGAR_CONFORMANCE_TOKEN";

fn tagged_spec(image: &TestImage) -> (MachineSpec, String) {
    let script = "sleep 1000 & echo ready; exec sleep 1001";
    let mut spec = base_spec(image, &["/bin/sh", "-c", script]);
    let token = format!("leftover-{}", spec.machine_id);
    spec.process.env.push((TOKEN_VAR.into(), token.clone()));
    (spec, token)
}

/// Host PIDs whose environment carries `token`.
fn processes_with_token(token: &str) -> Vec<u32> {
    let needle = format!("{TOKEN_VAR}={token}");
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .map(|env| env.split(|b| *b == 0).any(|kv| kv == needle.as_bytes()))
                .unwrap_or(false)
        })
        .collect()
}

/// Host mounts that mention the machine.
fn mounts_mentioning(spec: &MachineSpec) -> Vec<String> {
    let table = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    table
        .lines()
        .filter(|l| l.contains(&spec.machine_id) || l.contains(&spec.instance_id))
        .map(str::to_owned)
        .collect()
}

async fn assert_nothing_left(spec: &MachineSpec, token: &str, handle: &TaskHandle) {
    let gone = poll_until(PROMPT, || async { processes_with_token(token).is_empty() }).await;
    assert!(
        gone,
        "processes of machine {} survived: {:?}",
        spec.machine_id,
        processes_with_token(token)
    );
    let mounts = mounts_mentioning(spec);
    assert!(
        mounts.is_empty(),
        "mounts of machine {} survived: {mounts:#?}",
        spec.machine_id
    );
    let pid_alive = std::fs::read_to_string(format!("/proc/{}/stat", handle.pid))
        .map(|stat| !stat.contains(") Z"))
        .unwrap_or(false);
    let environ_has_token = processes_with_token(token).contains(&handle.pid);
    assert!(
        !(pid_alive && environ_has_token),
        "the task's top process {} survived",
        handle.pid
    );
}

/// Kill + cleanup leaves no process or mount of the machine behind.
pub async fn check_cleanup_leaves_nothing(driver: &dyn Driver, image: &TestImage) {
    let (spec, token) = tagged_spec(image);
    let task = driver.start(&spec).await.expect("start");
    let handle = task.handle.clone();
    let _guard = KillOnPanic(handle.pid);
    let mut lines = spawn_line_collector(task.stdout);
    wait_for_line(&mut lines, "`ready`", |l| l == "ready").await;
    assert!(
        !processes_with_token(&token).is_empty(),
        "the tagged machine's processes are visible on the host"
    );
    driver.kill(&handle).await.expect("kill");
    wait_exit(&spec.machine_id, task.exit).await;
    driver.cleanup(&handle).await.expect("cleanup");
    assert_nothing_left(&spec, &token, &handle).await;
}

/// After an agent "crash" (its end of the task dropped), recover kills survivors and cleans up.
pub async fn check_recover_kills_survivors(driver: &dyn Driver, image: &TestImage) {
    let (spec, token) = tagged_spec(image);
    let task = driver.start(&spec).await.expect("start");
    let handle = task.handle.clone();
    let _guard = KillOnPanic(handle.pid);
    let mut lines = spawn_line_collector(task.stdout);
    wait_for_line(&mut lines, "`ready`", |l| l == "ready").await;
    // The agent persisted the handle as JSON and lost everything else.
    let persisted = serde_json::to_string(&handle).expect("handle serializes");
    drop(task.stderr);
    drop(task.exit);
    let restored: TaskHandle = serde_json::from_str(&persisted).expect("handle deserializes");
    assert_eq!(restored, handle);
    driver.recover(&restored).await.expect("recover");
    assert_nothing_left(&spec, &token, &restored).await;
    driver
        .recover(&restored)
        .await
        .expect("recover is idempotent");
}

/// An agent that dies between a start and recording its handle starts the
/// Machine again after its restart: that start succeeds, and nothing of the
/// task whose handle was lost keeps running beside the new one.
pub async fn check_start_replaces_an_unrecorded_task(driver: &dyn Driver, image: &TestImage) {
    let (spec, lost_token) = tagged_spec(image);
    let lost = driver.start(&spec).await.expect("start");
    let _guard = KillOnPanic(lost.handle.pid);
    let mut lines = spawn_line_collector(lost.stdout);
    wait_for_line(&mut lines, "`ready`", |l| l == "ready").await;
    // The agent died here: the handle, the output and the exit are gone.
    drop(lost.stderr);
    drop(lost.exit);

    let mut again = spec.clone();
    let token = format!("{lost_token}-again");
    for (key, value) in &mut again.process.env {
        if key == TOKEN_VAR {
            value.clone_from(&token);
        }
    }
    let task = driver
        .start(&again)
        .await
        .expect("starting the machine again after its earlier start's handle was lost");
    let handle = task.handle.clone();
    let _guard_again = KillOnPanic(handle.pid);
    let mut lines = spawn_line_collector(task.stdout);
    wait_for_line(&mut lines, "`ready` from the new start", |l| l == "ready").await;
    let gone = poll_until(PROMPT, || async {
        processes_with_token(&lost_token).is_empty()
    })
    .await;
    assert!(
        gone,
        "processes of the start whose handle was lost still run beside the new one: {:?}",
        processes_with_token(&lost_token)
    );
    driver.kill(&handle).await.expect("kill");
    wait_exit(&spec.machine_id, task.exit).await;
    driver.cleanup(&handle).await.expect("cleanup");
    assert_nothing_left(&again, &token, &handle).await;
}
