//! Shared setup of the process driver's tests: a busybox image and drivers.
#![allow(dead_code)]

use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use hangar_driver::conformance::TestImage;
use hangar_driver::{Driver, Isolation, NetworkSpec};
use hangar_driver_process::{ProcessDriver, ProcessDriverConfig};

/// Bridge and subnets of these tests: distinct from the default `hangar0`
/// (172.30.0.1/16, fdaa:0:48::1/64) so that tests of other crates, which use the
/// default, can run at the same time.
pub const TEST_BRIDGE: &str = "hgdrvtest0";
pub const GATEWAY4: Ipv4Addr = Ipv4Addr::new(172, 29, 250, 1);
pub const GATEWAY6: Ipv6Addr = Ipv6Addr::new(0xfdaa, 0, 0x48, 0xfa, 0, 0, 0, 1);

pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub image: TestImage,
}

/// True (and a loud message) when these tests cannot run here.
pub fn skip_unless_root_with_busybox(test: &str) -> bool {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("!!! SKIPPING {test}: the process driver's isolation tests need root");
        return true;
    }
    if !Path::new("/bin/busybox").exists() {
        eprintln!("!!! SKIPPING {test}: /bin/busybox is missing (apt-get install busybox-static)");
        return true;
    }
    false
}

/// The suite's busybox image in a temporary directory.
pub fn busybox_image() -> Fixture {
    let dir = tempfile::Builder::new()
        .prefix("hangar-driver-test-")
        .tempdir()
        .unwrap();
    let image = TestImage::busybox(dir.path());
    Fixture { dir, image }
}

impl AsRef<TestImage> for Fixture {
    fn as_ref(&self) -> &TestImage {
        &self.image
    }
}

/// The isolated driver and its image, or `None` (after a loud message)
/// without root or busybox.
pub async fn isolated_setup(test: &str) -> Option<(ProcessDriver, Fixture)> {
    if skip_unless_root_with_busybox(test) {
        return None;
    }
    let fixture = busybox_image();
    let driver = driver(&fixture);
    assert_eq!(
        driver.isolation(),
        Isolation::Full,
        "this host should allow full isolation"
    );
    Some((driver, fixture))
}

/// The driver with isolation disabled and its image, or `None` (after a
/// loud message) without busybox.
pub async fn unisolated_setup(test: &str) -> Option<(ProcessDriver, Fixture)> {
    if !Path::new("/bin/busybox").exists() {
        eprintln!("!!! SKIPPING {test}: /bin/busybox is missing");
        return None;
    }
    let fixture = busybox_image();
    let driver = unisolated_driver(&fixture);
    assert!(matches!(driver.isolation(), Isolation::None { .. }));
    Some((driver, fixture))
}

pub fn init_exe() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_hangar-machine-init"))
}

pub fn driver(fixture: &Fixture) -> ProcessDriver {
    let mut config = ProcessDriverConfig::new(fixture.dir.path().join("state"), init_exe());
    config.bridge = TEST_BRIDGE.into();
    config.gateway4 = GATEWAY4;
    config.subnet4_prefix = 24;
    config.gateway6 = GATEWAY6;
    config.subnet6_prefix = 64;
    ProcessDriver::new(config).expect("process driver")
}

pub fn unisolated_driver(fixture: &Fixture) -> ProcessDriver {
    let mut config =
        ProcessDriverConfig::new(fixture.dir.path().join("state-unisolated"), init_exe());
    config.disable_isolation = true;
    ProcessDriver::new(config).expect("process driver")
}

/// A network spec for host number `host` (2..=254) on the test bridge.
pub fn network(host: u8) -> NetworkSpec {
    NetworkSpec {
        ipv4: Ipv4Addr::new(172, 29, 250, host),
        ipv4_prefix: 24,
        gateway4: GATEWAY4,
        ipv6: Ipv6Addr::new(0xfdaa, 0, 0x48, 0xfa, 0, 0, 0, u16::from(host)),
        ipv6_prefix: 64,
        gateway6: GATEWAY6,
    }
}

/// A started machine whose stdout is being collected.
pub struct Running {
    pub handle: hangar_driver::TaskHandle,
    pub lines: tokio::sync::watch::Receiver<Vec<String>>,
    pub stderr: tokio::sync::watch::Receiver<Vec<String>>,
    pub exit: tokio::sync::oneshot::Receiver<hangar_driver::ExitInfo>,
}

/// A failed test must not leave its machine running: kill its monitor (the
/// whole machine dies with it).
impl Drop for Running {
    fn drop(&mut self) {
        if std::thread::panicking() && self.handle.pid > 0 {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(self.handle.pid as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

fn collect_lines(
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

/// Bound for anything that should happen promptly in these tests.
pub const PROMPT: std::time::Duration = std::time::Duration::from_secs(20);

/// Starts `spec` and collects its output in the background.
pub async fn start(driver: &ProcessDriver, spec: &hangar_driver::MachineSpec) -> Running {
    use hangar_driver::Driver;
    let task = driver.start(spec).await.expect("start");
    let (tx, exit) = tokio::sync::oneshot::channel();
    let exit_future = task.exit;
    tokio::spawn(async move {
        let _ = tx.send(exit_future.await);
    });
    Running {
        handle: task.handle,
        lines: collect_lines(task.stdout),
        stderr: collect_lines(task.stderr),
        exit,
    }
}

impl Running {
    /// Waits (bounded) until a stdout line equals `line`.
    pub async fn wait_line(&mut self, line: &str) {
        let found = matches!(
            tokio::time::timeout(
                PROMPT,
                self.lines.wait_for(|seen| seen.iter().any(|l| l == line))
            )
            .await,
            Ok(Ok(_))
        );
        assert!(
            found,
            "machine {} never printed {line:?}; stdout {:?}, stderr {:?}",
            self.handle.machine_id,
            self.lines.borrow(),
            self.stderr.borrow()
        );
    }

    /// Waits (bounded) for the machine to exit.
    pub async fn wait_exit(&mut self) -> hangar_driver::ExitInfo {
        tokio::time::timeout(PROMPT, &mut self.exit)
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "machine {} did not exit within {PROMPT:?}",
                    self.handle.machine_id
                )
            })
            .expect("exit reported")
    }

    /// Kills the machine, waits for its exit and cleans up.
    pub async fn destroy(mut self, driver: &ProcessDriver) {
        use hangar_driver::Driver;
        driver.kill(&self.handle).await.expect("kill");
        self.wait_exit().await;
        driver.cleanup(&self.handle).await.expect("cleanup");
        for path in driver.host_resources(&self.handle).expect("handle") {
            assert!(!path.exists(), "{} survived cleanup", path.display());
        }
    }
}

/// Runs `argv` in the machine and returns its stdout, asserting success.
pub async fn exec_ok(
    driver: &ProcessDriver,
    handle: &hangar_driver::TaskHandle,
    argv: &[&str],
) -> String {
    use hangar_driver::Driver;
    let out = driver
        .exec(
            handle,
            hangar_driver::ExecRequest {
                argv: argv.iter().map(|s| s.to_string()).collect(),
                timeout: PROMPT,
                stdin: None,
                env: vec![("PATH".into(), "/bin".into())],
            },
        )
        .await
        .expect("exec");
    assert_eq!(
        out.exit_code,
        0,
        "{argv:?} failed: stdout {:?} stderr {:?}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
