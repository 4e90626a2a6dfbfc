//! The Docker driver's housekeeping: leftover containers of Machines the
//! agent does not have are removed, loaded images no Machine uses go after
//! their grace period, and `FROM host` images see the host's system
//! directories read-only.

mod common;

use std::collections::HashSet;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use hangar_driver::conformance::{base_spec, collect_output};
use hangar_driver::{Driver, TaskHandle};
use hangar_driver_docker::{DockerDriver, DockerDriverConfig};

/// Runs the `docker` CLI; returns whether it succeeded and its trimmed stdout.
fn docker(args: &[&str]) -> (bool, String) {
    match Command::new("docker").args(args).output() {
        Ok(out) => (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).trim().to_owned(),
        ),
        Err(_) => (false, String::new()),
    }
}

fn container_exists(machine_id: &str) -> bool {
    !docker(&[
        "ps",
        "-aq",
        "--filter",
        &format!("name=^hangar-{machine_id}$"),
    ])
    .1
    .is_empty()
}

fn image_exists(tag: &str) -> bool {
    docker(&["image", "inspect", tag]).0
}

/// A driver whose objects carry an owner of this test's own.
async fn driver_owned_by(test: &str, grace: Duration) -> Option<DockerDriver> {
    if !Path::new("/bin/busybox").exists() {
        eprintln!("!!! SKIPPED {test}: /bin/busybox is missing (apt-get install busybox-static)");
        return None;
    }
    let config = DockerDriverConfig {
        owner: format!("{test}-{}", std::process::id()),
        image_grace: grace,
        ..DockerDriverConfig::default()
    };
    match DockerDriver::connect(config).await {
        Ok(driver) => Some(driver),
        Err(error) => {
            eprintln!("!!! SKIPPED {test}: {error}");
            None
        }
    }
}

fn known(ids: &[&str]) -> HashSet<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

async fn stop(driver: &DockerDriver, handle: &TaskHandle) {
    let _ = driver.kill(handle).await;
    driver.cleanup(handle).await.expect("cleanup");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leftover_containers_of_unknown_machines_are_removed_at_start_up() {
    let test = "leftover_containers";
    let Some(driver) = driver_owned_by(test, Duration::ZERO).await else {
        return;
    };
    let Some(neighbour) = driver_owned_by("leftover_neighbour", Duration::ZERO).await else {
        return;
    };
    let fixture = common::busybox_image();
    let kept = base_spec(&fixture.image, &["sleep", "600"]);
    let leftover = base_spec(&fixture.image, &["sleep", "600"]);
    let other_agent = base_spec(&fixture.image, &["sleep", "600"]);
    let _guards =
        [&kept, &leftover, &other_agent].map(|s| common::RemoveOnPanic(s.machine_id.clone()));
    let kept_task = driver.start(&kept).await.expect("start");
    // A start whose handle the agent never recorded (it crashed right after).
    let _lost = driver.start(&leftover).await.expect("start");
    let other_task = neighbour.start(&other_agent).await.expect("start");

    let removed = driver
        .remove_unknown_containers(|| async { known(&[&kept.machine_id]) })
        .await
        .expect("sweep");
    assert_eq!(removed, vec![leftover.machine_id.clone()]);
    assert!(
        !container_exists(&leftover.machine_id),
        "the leftover is gone"
    );
    assert!(
        container_exists(&kept.machine_id),
        "a known Machine keeps its container"
    );
    assert!(
        container_exists(&other_agent.machine_id),
        "another agent's container is not this agent's to remove"
    );
    stop(&driver, &kept_task.handle).await;
    stop(&neighbour, &other_task.handle).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn images_no_machine_uses_are_removed_after_their_grace() {
    let test = "image_gc";
    let Some(driver) = driver_owned_by(test, Duration::ZERO).await else {
        return;
    };
    let fixture = common::busybox_image();
    let spec = base_spec(&fixture.image, &["sleep", "600"]);
    let _guard = common::RemoveOnPanic(spec.machine_id.clone());
    let tag = hangar_driver_docker::image_tag(&spec.image_ref, &spec.layers);
    let machine = spec.machine_id.as_str();

    let task = driver.start(&spec).await.expect("start");
    let removed = driver
        .sweep_images(&known(&[machine]))
        .await
        .expect("sweep");
    assert!(
        removed.is_empty(),
        "a running container's image stays: {removed:?}"
    );
    assert!(image_exists(&tag));

    stop(&driver, &task.handle).await;
    let removed = driver
        .sweep_images(&known(&[machine]))
        .await
        .expect("sweep");
    assert!(
        removed.is_empty(),
        "a stopped Machine's image stays: {removed:?}"
    );
    assert!(image_exists(&tag));

    // The Machine is destroyed: nothing uses the image any more.
    let removed = driver.sweep_images(&known(&[])).await.expect("sweep");
    assert_eq!(removed, vec![tag.clone()]);
    assert!(
        !image_exists(&tag),
        "the unused image was removed from the daemon"
    );

    // A later start from the same image loads it again.
    let again = base_spec(&fixture.image, &["/bin/sh", "-c", "echo back"]);
    let _guard = common::RemoveOnPanic(again.machine_id.clone());
    let task = driver
        .start(&again)
        .await
        .expect("start after the image was removed");
    let handle = task.handle.clone();
    let output = collect_output(task).await;
    driver.cleanup(&handle).await.expect("cleanup");
    assert_eq!(output.stdout, "back\n", "{output:?}");
    driver.sweep_images(&known(&[])).await.expect("sweep");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unused_image_stays_for_its_grace_period() {
    let test = "image_grace";
    let Some(driver) = driver_owned_by(test, Duration::from_secs(3600)).await else {
        return;
    };
    let fixture = common::busybox_image();
    let spec = base_spec(&fixture.image, &["/bin/sh", "-c", "exit 0"]);
    let _guard = common::RemoveOnPanic(spec.machine_id.clone());
    let tag = hangar_driver_docker::image_tag(&spec.image_ref, &spec.layers);
    let task = driver.start(&spec).await.expect("start");
    let handle = task.handle.clone();
    collect_output(task).await;
    driver.cleanup(&handle).await.expect("cleanup");
    for _ in 0..2 {
        let removed = driver.sweep_images(&known(&[])).await.expect("sweep");
        assert!(removed.is_empty(), "{removed:?}");
    }
    assert!(image_exists(&tag), "kept within its grace period");
    // (The fixture untags it when the test ends.)
}

/// A `FROM host` image as the native builder makes it: the marker, the
/// host's merged-/usr symlinks, mount points for the real directories.
fn host_base_layers(dir: &Path) -> Vec<std::path::PathBuf> {
    let layer = dir.join("host-base");
    std::fs::create_dir_all(layer.join("tmp")).unwrap();
    std::fs::write(layer.join(".hangar-host-base"), "").unwrap();
    for name in ["usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32"] {
        let host = Path::new("/").join(name);
        match std::fs::symlink_metadata(&host) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let target = std::fs::read_link(&host).unwrap();
                std::os::unix::fs::symlink(target, layer.join(name)).unwrap();
            }
            Ok(meta) if meta.is_dir() => std::fs::create_dir_all(layer.join(name)).unwrap(),
            _ => {}
        }
    }
    vec![layer]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn from_host_images_get_the_host_system_directories_read_only() {
    let test = "from_host";
    let Some(driver) = driver_owned_by(test, Duration::ZERO).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let image = hangar_driver::conformance::TestImage {
        layers: host_base_layers(dir.path()),
    };
    // The host's own shell and coreutils, from the host's /usr.
    let script = "test -x /usr/bin/env && echo host programs; \
                  if touch /usr/hangar-probe 2>/dev/null; then echo writable; else echo read-only; fi";
    let spec = base_spec(&image, &["/bin/sh", "-c", script]);
    let _guard = common::RemoveOnPanic(spec.machine_id.clone());
    let task = driver.start(&spec).await.expect("start a FROM host image");
    let handle = task.handle.clone();
    let output = collect_output(task).await;
    driver.cleanup(&handle).await.expect("cleanup");
    driver.sweep_images(&known(&[])).await.expect("sweep");
    assert_eq!(output.stdout, "host programs\nread-only\n", "{output:?}");
    assert!(!Path::new("/usr/hangar-probe").exists());
}

/// Starts `spec`, waits for it to exit and cleans up (as the agent does
/// when a Machine stops); returns its standard output.
async fn run_to_exit(driver: &DockerDriver, spec: &hangar_driver::MachineSpec) -> String {
    let task = driver.start(spec).await.expect("start");
    let handle = task.handle.clone();
    let output = collect_output(task).await;
    driver.cleanup(&handle).await.expect("cleanup");
    output.stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_machine_starts_from_its_image_after_an_agent_restart_and_a_sweep() {
    let test = "image_restart";
    let grace = DockerDriverConfig::default().image_grace;
    let Some(before_restart) = driver_owned_by(test, grace).await else {
        return;
    };
    let fixture = common::busybox_image();
    let spec = base_spec(&fixture.image, &["/bin/sh", "-c", "echo up"]);
    let _guard = common::RemoveOnPanic(spec.machine_id.clone());
    let tag = hangar_driver_docker::image_tag(&spec.image_ref, &spec.layers);
    let machine = spec.machine_id.as_str();
    assert_eq!(run_to_exit(&before_restart, &spec).await, "up\n");
    assert!(
        !container_exists(machine),
        "a stopped Machine keeps no container"
    );

    // The agent restarts: a new driver that never saw the Machine start.
    drop(before_restart);
    let after_restart = driver_owned_by(test, grace)
        .await
        .expect("the daemon is still reachable");
    let removed = after_restart
        .sweep_images_with_grace(&known(&[machine]), Duration::ZERO)
        .await
        .expect("sweep");
    assert!(
        removed.is_empty(),
        "the stopped Machine's image stays: removed {removed:?}"
    );
    assert!(image_exists(&tag), "the stopped Machine's image stays");
    {
        // Its next start finds the image in Docker: it needs no layers to load.
        let _hidden = fixture.hide_layers();
        assert_eq!(run_to_exit(&after_restart, &spec).await, "up\n");
    }

    // Destroyed: its pin goes, and the image with it.
    let removed = after_restart
        .sweep_images_with_grace(&known(&[]), Duration::ZERO)
        .await
        .expect("sweep");
    assert_eq!(removed, vec![tag.clone()]);
    assert!(!image_exists(&tag), "the image was removed");
    assert!(
        !image_exists(&hangar_driver_docker::pin_tag(machine)),
        "the destroyed Machine's pin was removed"
    );
}
