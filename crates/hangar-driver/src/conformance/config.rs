//! The process spec is applied: env, working directory, user, hostname.

use super::harness::{base_spec, collect_output, KillOnPanic};
use super::TestImage;
use crate::Driver;

/// Env, working directory and user (numeric and by name) reach the main process.
pub async fn check_env_workdir_user(driver: &dyn Driver, image: &TestImage) {
    let script = "echo \"$GREETING\"; pwd; id -u; id -g";
    let mut spec = base_spec(image, &["/bin/sh", "-c", script]);
    spec.process
        .env
        .push(("GREETING".into(), "hello from env".into()));
    let isolated = driver.isolation().is_isolated();
    if isolated {
        spec.process.workdir = Some("/tmp".into());
        spec.process.user = Some("1234:2345".into());
    } else {
        eprintln!(
            "!!! conformance: driver {} does not isolate; skipping workdir/user checks",
            driver.name()
        );
    }
    let task = driver.start(&spec).await.expect("start");
    let handle = task.handle.clone();
    let _guard = KillOnPanic(handle.pid);
    let output = collect_output(task).await;
    let lines: Vec<&str> = output.stdout.lines().collect();
    assert_eq!(
        lines.first(),
        Some(&"hello from env"),
        "env applied: {output:?}"
    );
    driver.cleanup(&handle).await.expect("cleanup");
    if !isolated {
        return;
    }
    assert_eq!(
        lines,
        ["hello from env", "/tmp", "1234", "2345"],
        "workdir and uid:gid applied: {output:?}"
    );

    let mut spec = base_spec(image, &["/bin/sh", "-c", "id -u; id -g"]);
    spec.process.user = Some("nobody".into());
    let task = driver.start(&spec).await.expect("start");
    let handle = task.handle.clone();
    let _guard = KillOnPanic(handle.pid);
    let output = collect_output(task).await;
    assert_eq!(
        output.stdout, "65534\n65534\n",
        "user name resolved from the image's /etc/passwd: {output:?}"
    );
    driver.cleanup(&handle).await.expect("cleanup");
}

/// The machine's hostname is its machine ID.
pub async fn check_hostname_is_machine_id(driver: &dyn Driver, image: &TestImage) {
    if !driver.isolation().is_isolated() {
        eprintln!(
            "!!! conformance: driver {} does not isolate; skipping the hostname check",
            driver.name()
        );
        return;
    }
    let spec = base_spec(image, &["hostname"]);
    let task = driver.start(&spec).await.expect("start");
    let handle = task.handle.clone();
    let _guard = KillOnPanic(handle.pid);
    let output = collect_output(task).await;
    assert_eq!(
        output.stdout.trim(),
        spec.machine_id,
        "hostname = machine id: {output:?}"
    );
    assert_eq!(output.exit.exit_code, Some(0));
    driver.cleanup(&handle).await.expect("cleanup");
}

/// A volume's host directory appears at its guest path, readable and writable.
pub async fn check_volume_mount(driver: &dyn Driver, image: &TestImage) {
    if !driver.isolation().is_isolated() {
        eprintln!(
            "!!! conformance: driver {} does not isolate; skipping the volume check",
            driver.name()
        );
        return;
    }
    let volume = std::env::temp_dir().join(format!(
        "hangar-conformance-volume-{}",
        super::unique_machine_id()
    ));
    std::fs::create_dir_all(&volume).expect("creating a volume directory");
    std::fs::write(volume.join("from-host"), "host data\n").expect("writing into the volume");
    let mut spec = base_spec(
        image,
        &[
            "/bin/sh",
            "-c",
            "cat /data/vol/from-host; echo guest data > /data/vol/from-guest",
        ],
    );
    spec.mounts.push(crate::VolumeMount {
        host_path: volume.clone(),
        guest_path: "/data/vol".into(),
    });
    let task = driver.start(&spec).await.expect("start");
    let handle = task.handle.clone();
    let _guard = KillOnPanic(handle.pid);
    let output = collect_output(task).await;
    driver.cleanup(&handle).await.expect("cleanup");
    let written = std::fs::read_to_string(volume.join("from-guest"));
    let _ = std::fs::remove_dir_all(&volume);
    assert_eq!(
        output.stdout, "host data\n",
        "the volume is readable inside: {output:?}"
    );
    assert_eq!(output.exit.exit_code, Some(0), "{output:?}");
    assert_eq!(
        written.ok().as_deref(),
        Some("guest data\n"),
        "writes inside reach the volume"
    );
}

/// Starting a program the image does not have fails clearly: an error from
/// `start`, or a task that exits unsuccessfully at once.
pub async fn check_missing_program(driver: &dyn Driver, image: &TestImage) {
    let spec = base_spec(image, &["/no/such/program"]);
    match driver.start(&spec).await {
        Err(error) => {
            let message = error.to_string();
            assert!(
                message.contains("/no/such/program"),
                "the error names the program: {message}"
            );
        }
        Ok(task) => {
            let handle = task.handle.clone();
            let _guard = KillOnPanic(handle.pid);
            let output = collect_output(task).await;
            assert_ne!(
                output.exit.exit_code,
                Some(0),
                "a missing program cannot succeed: {output:?}"
            );
            driver.cleanup(&handle).await.expect("cleanup");
        }
    }
}
