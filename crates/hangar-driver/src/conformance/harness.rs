//! Shared scaffolding of the conformance checks: specs, output collection, bounded waits.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::io::AsyncReadExt;

use super::TestImage;
use crate::{ExitInfo, MachineSpec, ProcessSpec, Resources, StartedTask};

/// Upper bound for anything in the suite that should happen "promptly".
pub(crate) const PROMPT: Duration = Duration::from_secs(15);

/// A fresh 14-hex-digit machine ID, unique within this host and process.
pub fn unique_machine_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mixed = (nanos as u64)
        ^ ((std::process::id() as u64) << 40)
        ^ count.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    format!("{:014x}", mixed & 0x00ff_ffff_ffff_ffff)
}

/// A spec running `argv` from `image` with `PATH=/bin` and default resources.
pub fn base_spec(image: &TestImage, argv: &[&str]) -> MachineSpec {
    let machine_id = unique_machine_id();
    MachineSpec {
        instance_id: format!("01conf{machine_id}"),
        machine_id,
        app_name: "conformance".into(),
        region: "local".into(),
        image_ref: "conformance:latest".into(),
        layers: image.layers.clone(),
        process: ProcessSpec {
            argv: argv.iter().map(|s| s.to_string()).collect(),
            env: vec![("PATH".into(), "/bin:/usr/bin:/sbin:/usr/sbin".into())],
            user: None,
            workdir: None,
        },
        resources: Resources::default(),
        network: None,
        mounts: Vec::new(),
        extra_hosts: Vec::new(),
    }
}

/// Everything a finished task produced.
#[derive(Debug, Clone)]
pub struct TaskOutput {
    pub stdout: String,
    pub stderr: String,
    pub exit: ExitInfo,
}

/// Reads the task's output to the end and waits for its exit, within `PROMPT`.
pub async fn collect_output(task: StartedTask) -> TaskOutput {
    let StartedTask {
        handle,
        mut stdout,
        mut stderr,
        exit,
    } = task;
    let work = async move {
        let mut out = Vec::new();
        let mut err = Vec::new();
        let (r1, r2, exit) = tokio::join!(
            stdout.read_to_end(&mut out),
            stderr.read_to_end(&mut err),
            exit
        );
        r1.expect("reading stdout");
        r2.expect("reading stderr");
        TaskOutput {
            stdout: String::from_utf8_lossy(&out).into_owned(),
            stderr: String::from_utf8_lossy(&err).into_owned(),
            exit,
        }
    };
    match tokio::time::timeout(PROMPT, work).await {
        Ok(output) => output,
        Err(_) => panic!(
            "machine {} did not exit within {PROMPT:?}",
            handle.machine_id
        ),
    }
}

/// Waits (bounded) for an exit future.
pub async fn wait_exit(
    machine_id: &str,
    exit: std::pin::Pin<Box<dyn std::future::Future<Output = ExitInfo> + Send>>,
) -> ExitInfo {
    match tokio::time::timeout(PROMPT, exit).await {
        Ok(info) => info,
        Err(_) => panic!("machine {machine_id} did not exit within {PROMPT:?}"),
    }
}

/// Polls `condition` every 20 ms until it holds or `bound` passes; returns whether it held.
pub(crate) async fn poll_until<F, Fut>(bound: Duration, mut condition: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + bound;
    loop {
        if condition().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Reads `reader` line by line in the background, publishing the lines seen so far.
pub(crate) fn spawn_line_collector(
    reader: std::pin::Pin<Box<dyn tokio::io::AsyncRead + Send>>,
) -> tokio::sync::watch::Receiver<Vec<String>> {
    use tokio::io::AsyncBufReadExt;
    let (tx, rx) = tokio::sync::watch::channel(Vec::new());
    tokio::spawn(async move {
        let mut lines = tokio::io::BufReader::new(reader).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            tx.send_modify(|seen| seen.push(line));
        }
    });
    rx
}

/// Waits (bounded) until some collected line satisfies `predicate`.
pub(crate) async fn wait_for_line(
    lines: &mut tokio::sync::watch::Receiver<Vec<String>>,
    what: &str,
    predicate: impl Fn(&str) -> bool,
) {
    let found = matches!(
        tokio::time::timeout(
            PROMPT,
            lines.wait_for(|seen| seen.iter().any(|l| predicate(l)))
        )
        .await,
        Ok(Ok(_))
    );
    if !found {
        panic!(
            "expected {what} on the machine's stdout within {PROMPT:?}; saw {:?}",
            lines.borrow()
        );
    }
}

/// Kills a task's top process if the check panics, so a failed check leaves
/// no machine running. (Drivers are expected to take down the whole machine
/// with that process; a passing check cleans up through the driver.)
pub(crate) struct KillOnPanic(pub u32);

impl Drop for KillOnPanic {
    fn drop(&mut self) {
        if std::thread::panicking() && self.0 > 0 {
            let _ = std::process::Command::new("kill")
                .args(["-9", &self.0.to_string()])
                .status();
        }
    }
}
