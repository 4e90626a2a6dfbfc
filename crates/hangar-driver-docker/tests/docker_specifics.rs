//! What the Docker driver does beyond the shared conformance suite: memory
//! and pids limits, OOM reports, static addresses on a Hangar network, the
//! image loaded once, and clear refusals of bad specs.

mod common;

use std::net::{Ipv4Addr, Ipv6Addr};
use std::process::Command;
use std::time::Duration;

use hangar_driver::conformance::{base_spec, collect_output};
use hangar_driver::{Driver, DriverError, ExecRequest, NetworkSpec, VolumeMount};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Runs the `docker` CLI and returns its trimmed stdout ("" when it fails).
fn docker(args: &[&str]) -> String {
    Command::new("docker")
        .args(args)
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        .unwrap_or_default()
}

fn container_exists(machine_id: &str) -> bool {
    !docker(&[
        "ps",
        "-aq",
        "--filter",
        &format!("name=^hangar-{machine_id}$"),
    ])
    .is_empty()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exceeding_memory_is_reported_as_an_oom_kill() {
    let Some((driver, fixture)) =
        common::setup("exceeding_memory_is_reported_as_an_oom_kill").await
    else {
        return;
    };
    let mut spec = base_spec(
        &fixture.image,
        &["awk", "BEGIN { s = \"x\"; while (1) s = s s }"],
    );
    spec.resources.memory_mb = 32;
    let task = driver.start(&spec).await.expect("start");
    let _guard = common::RemoveOnPanic(spec.machine_id.clone());
    let handle = task.handle.clone();
    let output = collect_output(task).await;
    assert!(output.exit.oom_killed, "OOM kill reported: {output:?}");
    assert_eq!(output.exit.exit_code, Some(137), "{output:?}");
    driver.cleanup(&handle).await.expect("cleanup");

    let spec = base_spec(&fixture.image, &["/bin/sh", "-c", "exit 0"]);
    let task = driver.start(&spec).await.expect("start");
    let _guard = common::RemoveOnPanic(spec.machine_id.clone());
    let handle = task.handle.clone();
    assert!(!collect_output(task).await.exit.oom_killed);
    driver.cleanup(&handle).await.expect("cleanup");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_and_pids_limits_apply_to_the_container() {
    let Some((driver, fixture)) =
        common::setup("memory_and_pids_limits_apply_to_the_container").await
    else {
        return;
    };
    let script = "cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max; \
                  cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max";
    let mut spec = base_spec(&fixture.image, &["/bin/sh", "-c", script]);
    spec.resources.memory_mb = 96;
    spec.resources.pids_max = 77;
    let task = driver.start(&spec).await.expect("start");
    let _guard = common::RemoveOnPanic(spec.machine_id.clone());
    let handle = task.handle.clone();
    let output = collect_output(task).await;
    driver.cleanup(&handle).await.expect("cleanup");
    assert_eq!(
        output.stdout,
        format!("{}\n77\n", 96 * 1024 * 1024),
        "memory and pids limits: {output:?}"
    );
}

/// GETs `/` from `addr` over plain TCP, bounded.
async fn http_get(addr: std::net::SocketAddr) -> Option<String> {
    let attempt = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await.ok()?;
        stream
            .write_all(b"GET / HTTP/1.0\r\nHost: test\r\n\r\n")
            .await
            .ok()?;
        let mut response = String::new();
        stream.read_to_string(&mut response).await.ok()?;
        Some(response)
    };
    tokio::time::timeout(Duration::from_secs(2), attempt)
        .await
        .ok()
        .flatten()
}

/// [`http_get`] retried every 50 ms for up to 10 s (the server may still be starting,
/// an IPv6 address may still be tentative).
async fn http_get_eventually(addr: std::net::SocketAddr) -> Option<String> {
    for _ in 0..200 {
        if let Some(answer) = http_get(addr).await {
            return Some(answer);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_machine_answers_at_its_static_private_addresses() {
    let Some((driver, fixture)) =
        common::setup("a_machine_answers_at_its_static_private_addresses").await
    else {
        return;
    };
    // A subnet no other test uses (the process driver's tests use 172.29.250/24).
    let network = NetworkSpec {
        ipv4: Ipv4Addr::new(172, 29, 251, 5),
        ipv4_prefix: 24,
        gateway4: Ipv4Addr::new(172, 29, 251, 1),
        ipv6: "fdaa:0:48:fb::5".parse::<Ipv6Addr>().unwrap(),
        ipv6_prefix: 64,
        gateway6: "fdaa:0:48:fb::1".parse::<Ipv6Addr>().unwrap(),
    };
    let mut spec = base_spec(&fixture.image, &["httpd", "-f", "-p", "8080", "-h", "/www"]);
    spec.network = Some(network.clone());
    let task = driver.start(&spec).await.expect("start");
    let _guard = common::RemoveOnPanic(spec.machine_id.clone());
    let handle = task.handle.clone();
    let v4 = std::net::SocketAddr::from((network.ipv4, 8080));
    let answer = http_get_eventually(v4)
        .await
        .expect("the machine answers at its private IPv4 address");
    assert!(answer.contains("hello from a hangar machine"), "{answer}");
    let ipv6_enabled = docker(&[
        "network",
        "inspect",
        "-f",
        "{{.EnableIPv6}}",
        "hangar-172.29.251.0-24",
    ]);
    if ipv6_enabled == "true" {
        let v6 = std::net::SocketAddr::from((network.ipv6, 8080));
        let answer = http_get_eventually(v6)
            .await
            .expect("the machine answers at its private IPv6 address");
        assert!(answer.contains("hello from a hangar machine"), "{answer}");
    } else {
        eprintln!("!!! the Docker daemon refused IPv6 on the network: IPv4 only");
    }
    let out = driver
        .exec(
            &handle,
            ExecRequest {
                argv: vec!["/bin/sh".into(), "-c".into(), "ip -4 addr show eth0".into()],
                timeout: Duration::from_secs(10),
                stdin: None,
                env: vec![("PATH".into(), "/bin".into())],
            },
        )
        .await
        .expect("exec");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("172.29.251.5/24"), "{stdout}");
    driver.kill(&handle).await.expect("kill");
    collect_output(task).await;
    driver.cleanup(&handle).await.expect("cleanup");
    assert!(
        !container_exists(&spec.machine_id),
        "the container is removed"
    );
    assert!(
        docker(&[
            "network",
            "ls",
            "-q",
            "--filter",
            "name=^hangar-172.29.251.0-24$"
        ])
        .is_empty(),
        "the idle network is removed with its last container"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_is_loaded_into_docker_once() {
    let Some((driver, fixture)) = common::setup("an_image_is_loaded_into_docker_once").await else {
        return;
    };
    let image_of = |machine_id: &str| {
        docker(&[
            "inspect",
            "-f",
            "{{.Config.Image}}",
            &format!("hangar-{machine_id}"),
        ])
    };
    let spec = base_spec(&fixture.image, &["sleep", "30"]);
    let task = driver.start(&spec).await.expect("start");
    let _guard = common::RemoveOnPanic(spec.machine_id.clone());
    let tag = image_of(&spec.machine_id);
    assert!(tag.starts_with("hangar.local/machine:"), "{tag}");
    assert_eq!(
        docker(&[
            "image",
            "inspect",
            "-f",
            "{{index .Config.Labels \"dev.hangar.managed\"}}",
            &tag
        ]),
        "true"
    );
    driver.recover(&task.handle).await.expect("recover");
    // Another driver instance (an agent restart) finds the image in Docker:
    // it starts without the layers it would need to load it again.
    let again = hangar_driver_docker::DockerDriver::connect(common::config_for(
        "an_image_is_loaded_into_docker_once",
    ))
    .await
    .unwrap();
    let spec2 = base_spec(&fixture.image, &["sleep", "30"]);
    let task2 = {
        let _hidden = fixture.hide_layers();
        again
            .start(&spec2)
            .await
            .expect("start again without loading")
    };
    let _guard2 = common::RemoveOnPanic(spec2.machine_id.clone());
    assert_eq!(image_of(&spec2.machine_id), tag, "the same image");
    again.recover(&task2.handle).await.expect("recover");
    assert!(!container_exists(&spec2.machine_id));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_specs_are_refused_clearly_and_leave_nothing() {
    let Some((driver, fixture)) =
        common::setup("bad_specs_are_refused_clearly_and_leave_nothing").await
    else {
        return;
    };
    let mut spec = base_spec(&fixture.image, &["true"]);
    spec.mounts.push(VolumeMount {
        host_path: fixture.dir.path().join("no-such-volume"),
        guest_path: "/data".into(),
    });
    let error = driver
        .start(&spec)
        .await
        .expect_err("a missing volume directory");
    assert!(
        matches!(&error, DriverError::InvalidSpec(m) if m.contains("no-such-volume")),
        "{error}"
    );
    assert!(!container_exists(&spec.machine_id));

    let mut spec = base_spec(&fixture.image, &["true"]);
    spec.layers.clear();
    let error = driver
        .start(&spec)
        .await
        .expect_err("an image without layers");
    assert!(error.to_string().contains("without layers"), "{error}");

    // Docker's init reports a program the image lacks: the task fails at once, naming it.
    let spec = base_spec(&fixture.image, &["/no/such/program"]);
    let task = driver.start(&spec).await.expect("start");
    let _guard = common::RemoveOnPanic(spec.machine_id.clone());
    let handle = task.handle.clone();
    let output = collect_output(task).await;
    assert_eq!(output.exit.exit_code, Some(127), "{output:?}");
    assert!(output.stderr.contains("/no/such/program"), "{output:?}");
    driver.cleanup(&handle).await.expect("cleanup");
    assert!(
        !container_exists(&spec.machine_id),
        "cleanup leaves no container"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recover_finds_a_machines_containers_by_label() {
    let Some((driver, fixture)) =
        common::setup("recover_finds_a_machines_containers_by_label").await
    else {
        return;
    };
    let spec = base_spec(&fixture.image, &["sleep", "1000"]);
    let task = driver.start(&spec).await.expect("start");
    let _guard = common::RemoveOnPanic(spec.machine_id.clone());
    assert!(container_exists(&spec.machine_id));
    // A handle whose container ID is stale (as after a start the agent never recorded).
    let mut handle = task.handle.clone();
    handle.data = serde_json::json!({ "container_id": "0000000000000000", "network": null });
    driver.recover(&handle).await.expect("recover");
    assert!(
        !container_exists(&spec.machine_id),
        "the labelled container is removed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timed_out_exec_loses_its_children_too() {
    let Some((driver, fixture)) = common::setup("a_timed_out_exec_loses_its_children_too").await
    else {
        return;
    };
    let spec = base_spec(&fixture.image, &["sleep", "1000"]);
    let task = driver.start(&spec).await.expect("start");
    let _guard = common::RemoveOnPanic(spec.machine_id.clone());
    let request = ExecRequest {
        // The shell waits for its child, so killing only the shell would leave `sleep 61`.
        argv: vec!["/bin/sh".into(), "-c".into(), "sleep 61; echo done".into()],
        timeout: Duration::from_millis(300),
        stdin: None,
        env: vec![("PATH".into(), "/bin".into())],
    };
    let result = driver.exec(&task.handle, request).await;
    assert!(
        matches!(result, Err(DriverError::ExecTimedOut { .. })),
        "{result:?}"
    );
    let mut left = Vec::new();
    for _ in 0..100 {
        left = driver.ps(&task.handle).await.expect("ps");
        if !left.iter().any(|p| p.command.contains("sleep 61")) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        !left.iter().any(|p| p.command.contains("sleep 61")),
        "the exec's child survived: {left:?}"
    );
    driver.recover(&task.handle).await.expect("recover");
}
