//! What isolation means for a process-driver Machine, shown as root on this host:
//! its own PID space and files, memory/pids/CPU limits, and private addresses
//! reachable from the host and from other Machines.

mod common;

use std::time::{Duration, Instant};

use common::{exec_ok, network, start, PROMPT};
use hangar_driver::conformance::base_spec;
use hangar_driver::Driver;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

macro_rules! require_root {
    ($name:expr) => {
        if common::skip_unless_root_with_busybox($name) {
            return;
        }
    };
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn machine_sees_only_its_own_processes() {
    require_root!("machine_sees_only_its_own_processes");
    let fixture = common::busybox_image();
    let driver = common::driver(&fixture);
    let spec = base_spec(
        &fixture.image,
        &["/bin/sh", "-c", "echo ready; exec sleep 1000"],
    );
    let mut machine = start(&driver, &spec).await;
    machine.wait_line("ready").await;

    let listing = exec_ok(&driver, &machine.handle, &["ls", "/proc"]).await;
    let pids: Vec<u32> = listing
        .split_whitespace()
        .filter_map(|e| e.parse().ok())
        .collect();
    let host_pids = std::fs::read_dir("/proc")
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_str()
                .unwrap()
                .parse::<u32>()
                .is_ok()
        })
        .count();
    // init, the main process, the exec'd `ls` (and nothing of the host).
    assert!(
        pids.len() <= 4,
        "the machine sees processes beyond its own: {pids:?}"
    );
    assert!(pids.contains(&1), "the machine has its own PID 1: {pids:?}");
    assert!(
        host_pids > pids.len() + 5,
        "the host has more processes ({host_pids}) than the machine sees"
    );
    let ps = exec_ok(&driver, &machine.handle, &["ps", "-o", "pid,args"]).await;
    assert!(
        !ps.contains("cargo") && !ps.contains("conformance"),
        "host processes visible: {ps}"
    );
    machine.destroy(&driver).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn machines_do_not_see_each_others_files() {
    require_root!("machines_do_not_see_each_others_files");
    let fixture = common::busybox_image();
    let driver = common::driver(&fixture);
    let writer_spec = base_spec(
        &fixture.image,
        &["/bin/sh", "-c", "echo secret > /secret-of-a; echo secret > /tmp/secret-of-a; echo ready; exec sleep 1000"],
    );
    let mut writer = start(&driver, &writer_spec).await;
    writer.wait_line("ready").await;
    let reader_spec = base_spec(
        &fixture.image,
        &["/bin/sh", "-c", "echo ready; exec sleep 1000"],
    );
    let mut reader = start(&driver, &reader_spec).await;
    reader.wait_line("ready").await;

    let found = exec_ok(
        &driver,
        &reader.handle,
        &["find", "/", "-xdev", "-name", "secret-of-a"],
    )
    .await;
    assert_eq!(found, "", "machine B sees machine A's files");
    let root = exec_ok(&driver, &reader.handle, &["ls", "-a", "/"]).await;
    assert!(
        !root.contains("secret"),
        "machine B's root shows A's writes: {root}"
    );
    let host_state = fixture.dir.path().display().to_string();
    let visible = exec_ok(
        &driver,
        &reader.handle,
        &["/bin/sh", "-c", &format!("ls {host_state} 2>&1 || true")],
    )
    .await;
    assert!(
        visible.contains("No such file"),
        "the host's filesystem is visible inside: {visible}"
    );
    // The image's shared layers were not modified by A's writes.
    assert!(
        !fixture.image.layers[0].join("secret-of-a").exists(),
        "a machine wrote into a shared layer"
    );
    writer.destroy(&driver).await;
    reader.destroy(&driver).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writable_layer_is_fresh_on_every_start() {
    require_root!("writable_layer_is_fresh_on_every_start");
    let fixture = common::busybox_image();
    let driver = common::driver(&fixture);
    let script = "test -e /marker && echo stale || echo fresh; touch /marker";
    let spec = base_spec(&fixture.image, &["/bin/sh", "-c", script]);
    for _ in 0..2 {
        let mut machine = start(&driver, &spec).await;
        machine.wait_line("fresh").await;
        assert_eq!(machine.wait_exit().await.exit_code, Some(0));
        driver.cleanup(&machine.handle).await.expect("cleanup");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exceeding_memory_limit_is_an_oom_kill() {
    require_root!("exceeding_memory_limit_is_an_oom_kill");
    let fixture = common::busybox_image();
    let driver = common::driver(&fixture);
    // A string that doubles forever.
    let mut spec = base_spec(
        &fixture.image,
        &["awk", "BEGIN { s = \"x\"; while (1) s = s s }"],
    );
    spec.resources.memory_mb = 32;
    let mut machine = start(&driver, &spec).await;
    let exit = machine.wait_exit().await;
    assert!(
        exit.oom_killed,
        "the machine was not reported OOM-killed: {exit:?}"
    );
    assert_eq!(exit.signal, Some(9), "an OOM kill is a SIGKILL: {exit:?}");
    driver.cleanup(&machine.handle).await.expect("cleanup");

    // A machine within its limit is not reported as OOM-killed.
    let spec = base_spec(&fixture.image, &["/bin/sh", "-c", "exit 0"]);
    let mut machine = start(&driver, &spec).await;
    assert!(!machine.wait_exit().await.oom_killed);
    driver.cleanup(&machine.handle).await.expect("cleanup");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pids_limit_caps_a_fork_loop() {
    require_root!("pids_limit_caps_a_fork_loop");
    let fixture = common::busybox_image();
    let driver = common::driver(&fixture);
    // The subshell dies when fork fails; the sleeps it started stay.
    let script =
        "(for i in $(seq 1 100); do sleep 1000 & done) 2>/dev/null; echo forked; exec sleep 1000";
    let mut spec = base_spec(&fixture.image, &["/bin/sh", "-c", script]);
    spec.resources.pids_max = 16;
    let mut machine = start(&driver, &spec).await;
    machine.wait_line("forked").await;
    let processes = driver.ps(&machine.handle).await.expect("ps");
    assert!(
        processes.len() <= 16,
        "{} processes exceed pids_max = 16",
        processes.len()
    );
    assert!(
        processes.len() >= 8,
        "the loop should have forked up to the limit: {}",
        processes.len()
    );
    machine.destroy(&driver).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cpu_quota_holds() {
    require_root!("cpu_quota_holds");
    let fixture = common::busybox_image();
    let driver = common::driver(&fixture);
    // Three busy loops: without a quota they would use every core of the host.
    let script = "while :; do :; done & while :; do :; done & echo ready; while :; do :; done";
    let mut spec = base_spec(&fixture.image, &["/bin/sh", "-c", script]);
    spec.resources.cpus = 1;
    let mut machine = start(&driver, &spec).await;
    machine.wait_line("ready").await;

    let usage = |driver: &hangar_driver_process::ProcessDriver, handle| {
        driver
            .cpu_usage_nanos(handle)
            .expect("handle")
            .expect("cpu accounting on this host")
    };
    let (start_usage, started) = (usage(&driver, &machine.handle), Instant::now());
    // A fixed measurement window (not a synchronisation wait).
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (end_usage, elapsed) = (usage(&driver, &machine.handle), started.elapsed());
    let cores_used = (end_usage - start_usage) as f64 / elapsed.as_nanos() as f64;
    eprintln!("machine used {cores_used:.2} cores with a quota of 1");
    assert!(
        cores_used <= 1.1,
        "the machine used {cores_used:.2} cores with a 1-core quota"
    );
    assert!(
        cores_used > 0.1,
        "the busy loops barely ran ({cores_used:.2} cores)"
    );
    let cpu_dir = driver
        .host_resources(&machine.handle)
        .unwrap()
        .into_iter()
        .find(|p| p.join("cpu.cfs_quota_us").exists() || p.join("cpu.max").exists())
        .expect("a cpu cgroup");
    let stat = std::fs::read_to_string(cpu_dir.join("cpu.stat")).unwrap_or_default();
    eprintln!("cpu.stat: {}", stat.replace('\n', ", "));
    if cpu_dir.join("cpu.cfs_quota_us").exists() {
        let read = |file: &str| {
            std::fs::read_to_string(cpu_dir.join(file))
                .unwrap()
                .trim()
                .to_owned()
        };
        assert_eq!(
            (read("cpu.cfs_quota_us"), read("cpu.cfs_period_us")),
            ("100000".into(), "100000".into())
        );
    }
    let throttled = stat
        .lines()
        .find_map(|l| l.strip_prefix("nr_throttled "))
        .and_then(|n| n.trim().parse::<u64>().ok())
        .unwrap_or(0);
    if cores_used > 0.95 {
        assert!(
            throttled > 0,
            "the machine reached its quota, so it must have been throttled: {stat}"
        );
    } else {
        eprintln!("note: the host is busy ({cores_used:.2} cores available to the machine); the quota was not reached");
    }
    machine.destroy(&driver).await;
}

async fn http_get(address: std::net::SocketAddr) -> Result<String, String> {
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .map_err(|e| e.to_string())?;
    stream
        .write_all(b"GET /index.html HTTP/1.0\r\n\r\n")
        .await
        .map_err(|e| e.to_string())?;
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .await
        .map_err(|e| e.to_string())?;
    Ok(response)
}

async fn http_get_eventually(address: std::net::SocketAddr) -> String {
    let deadline = Instant::now() + PROMPT;
    loop {
        match tokio::time::timeout(Duration::from_secs(2), http_get(address)).await {
            Ok(Ok(response)) => return response,
            other if Instant::now() >= deadline => {
                panic!("GET http://{address}/ kept failing: {other:?}")
            }
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_server_is_reachable_at_private_ipv4_and_ipv6() {
    require_root!("http_server_is_reachable_at_private_ipv4_and_ipv6");
    let fixture = common::busybox_image();
    let driver = common::driver(&fixture);
    let mut spec = base_spec(&fixture.image, &["httpd", "-f", "-p", "8080", "-h", "/www"]);
    spec.network = Some(network(21));
    let machine = start(&driver, &spec).await;
    let net = network(21);

    let v4 = http_get_eventually((net.ipv4, 8080).into()).await;
    assert!(
        v4.contains("hello from a hangar machine"),
        "IPv4 response: {v4}"
    );
    let v6 = http_get_eventually((net.ipv6, 8080).into()).await;
    assert!(
        v6.contains("hello from a hangar machine"),
        "IPv6 response: {v6}"
    );

    let hosts = exec_ok(&driver, &machine.handle, &["cat", "/etc/hosts"]).await;
    assert!(
        hosts.contains(&format!("{}\t{}", net.ipv4, spec.machine_id)),
        "/etc/hosts: {hosts}"
    );
    let veth = driver.host_resources(&machine.handle).unwrap();
    machine.destroy(&driver).await;
    for path in veth {
        assert!(!path.exists(), "{} survived cleanup", path.display());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_machines_reach_each_other() {
    require_root!("two_machines_reach_each_other");
    let fixture = common::busybox_image();
    let driver = common::driver(&fixture);
    let mut server_spec = base_spec(&fixture.image, &["httpd", "-f", "-p", "8080", "-h", "/www"]);
    server_spec.network = Some(network(31));
    let server = start(&driver, &server_spec).await;
    let mut client_spec = base_spec(
        &fixture.image,
        &["/bin/sh", "-c", "echo ready; exec sleep 1000"],
    );
    client_spec.network = Some(network(32));
    client_spec.extra_hosts = vec![("server.internal".into(), network(31).ipv6.into())];
    let mut client = start(&driver, &client_spec).await;
    client.wait_line("ready").await;
    http_get_eventually((network(31).ipv4, 8080).into()).await;

    // (busybox-static's wget crashes in network namespaces; nc speaks HTTP just as well.)
    for server in ["172.29.250.31", "fdaa:0:48:fa::1f"] {
        let request =
            format!("printf 'GET /index.html HTTP/1.0\\r\\n\\r\\n' | nc -w 5 {server} 8080");
        let response = exec_ok(&driver, &client.handle, &["/bin/sh", "-c", &request]).await;
        assert!(
            response.contains("hello from a hangar machine"),
            "{server} from the other machine: {response}"
        );
    }
    let hosts = exec_ok(&driver, &client.handle, &["cat", "/etc/hosts"]).await;
    assert!(
        hosts.contains("fdaa:0:48:fa::1f\tserver.internal"),
        "extra hosts written: {hosts}"
    );
    server.destroy(&driver).await;
    client.destroy(&driver).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn volumes_are_mounted_at_their_path() {
    require_root!("volumes_are_mounted_at_their_path");
    let fixture = common::busybox_image();
    let driver = common::driver(&fixture);
    let volume = fixture.dir.path().join("volume");
    std::fs::create_dir_all(&volume).unwrap();
    std::fs::write(volume.join("existing"), "from the host\n").unwrap();
    let mut spec = base_spec(
        &fixture.image,
        &[
            "/bin/sh",
            "-c",
            "cat /data/existing; echo written > /data/new",
        ],
    );
    spec.mounts = vec![hangar_driver::VolumeMount {
        host_path: volume.clone(),
        guest_path: "/data".into(),
    }];
    let mut machine = start(&driver, &spec).await;
    machine.wait_line("from the host").await;
    assert_eq!(machine.wait_exit().await.exit_code, Some(0));
    driver.cleanup(&machine.handle).await.expect("cleanup");
    assert_eq!(
        std::fs::read_to_string(volume.join("new")).unwrap(),
        "written\n",
        "writes reach the volume"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_program_fails_the_start_clearly() {
    require_root!("a_missing_program_fails_the_start_clearly");
    let fixture = common::busybox_image();
    let driver = common::driver(&fixture);
    let spec = base_spec(&fixture.image, &["/app/server"]);
    let error = driver
        .start(&spec)
        .await
        .expect_err("a start with a missing program must fail");
    let message = error.to_string();
    assert!(
        message.contains("/app/server"),
        "the error names the program: {message}"
    );
    let leftovers = std::fs::read_dir(fixture.dir.path().join("state/machines"))
        .unwrap()
        .count();
    assert_eq!(leftovers, 0, "a failed start leaves no task directory");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn root_in_a_machine_cannot_reach_the_host_kernel() {
    require_root!("root_in_a_machine_cannot_reach_the_host_kernel");
    let fixture = common::busybox_image();
    let driver = common::driver(&fixture);
    let mut spec = base_spec(
        &fixture.image,
        &["/bin/sh", "-c", "echo ready; exec sleep 1000"],
    );
    spec.network = Some(network(41));
    let mut machine = start(&driver, &spec).await;
    machine.wait_line("ready").await;
    for (what, attempt) in [
        ("mount a filesystem", "mount -t tmpfs tmpfs /mnt"),
        ("remount /sys read-write", "mount -o remount,rw /sys"),
        (
            "write a kernel setting",
            "echo 1 > /proc/sys/vm/drop_caches",
        ),
        ("create a device node", "mknod /tmp/disk b 8 0"),
        (
            "change its own address",
            "ip addr add 172.29.250.99/24 dev eth0",
        ),
        ("read kernel memory", "head -c 1 /proc/kcore | grep -q ."),
    ] {
        let script = format!("{attempt} 2>/dev/null && echo ALLOWED || echo denied");
        let verdict = exec_ok(&driver, &machine.handle, &["/bin/sh", "-c", &script]).await;
        assert_eq!(verdict.trim(), "denied", "root in a machine may {what}");
    }
    // Ordinary root work still functions.
    let owned = exec_ok(
        &driver,
        &machine.handle,
        &[
            "/bin/sh",
            "-c",
            "touch /tmp/f && chown 65534 /tmp/f && echo ok",
        ],
    )
    .await;
    assert_eq!(owned.trim(), "ok");
    machine.destroy(&driver).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_reaps_orphaned_zombies() {
    require_root!("init_reaps_orphaned_zombies");
    let fixture = common::busybox_image();
    let driver = common::driver(&fixture);
    // Each subshell exits at once, orphaning a short sleep that PID 1 must reap.
    let script = "for i in 1 2 3 4 5; do (sleep 0.01 &); done; echo ready; exec sleep 1000";
    let spec = base_spec(&fixture.image, &["/bin/sh", "-c", script]);
    let mut machine = start(&driver, &spec).await;
    machine.wait_line("ready").await;
    let deadline = Instant::now() + PROMPT;
    loop {
        let states = exec_ok(
            &driver,
            &machine.handle,
            &["/bin/sh", "-c", "cat /proc/[0-9]*/stat 2>/dev/null; true"],
        )
        .await;
        let zombies = states.lines().filter(|l| l.contains(") Z ")).count();
        let sleepers = states.lines().filter(|l| l.contains("(sleep)")).count();
        if zombies == 0 && sleepers == 1 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "orphans were not reaped: {states}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    machine.destroy(&driver).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_machines_start_concurrently_on_one_bridge() {
    require_root!("many_machines_start_concurrently_on_one_bridge");
    let fixture = common::busybox_image();
    let driver = std::sync::Arc::new(common::driver(&fixture));
    let image = fixture.image.clone();
    let starts = (0..16u8).map(|i| {
        let (driver, image) = (driver.clone(), image.clone());
        tokio::spawn(async move {
            let mut spec = base_spec(&image, &["httpd", "-f", "-p", "8080", "-h", "/www"]);
            spec.network = Some(network(150 + i));
            (i, start(&driver, &spec).await)
        })
    });
    let mut machines = Vec::new();
    for started in starts.collect::<Vec<_>>() {
        machines.push(started.await.expect("start task"));
    }
    for (i, _) in &machines {
        let response = http_get_eventually((network(150 + i).ipv4, 8080).into()).await;
        assert!(
            response.contains("hello from a hangar machine"),
            "machine {i}: {response}"
        );
    }
    for (_, machine) in machines {
        machine.destroy(&driver).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loopback_works_without_a_network() {
    require_root!("loopback_works_without_a_network");
    let fixture = common::busybox_image();
    let driver = common::driver(&fixture);
    let script = "httpd -p 127.0.0.1:8080 -h /www; echo ready; exec sleep 1000";
    let mut machine = start(
        &driver,
        &base_spec(&fixture.image, &["/bin/sh", "-c", script]),
    )
    .await;
    machine.wait_line("ready").await;
    let request = "printf 'GET /index.html HTTP/1.0\\r\\n\\r\\n' | nc -w 5 127.0.0.1 8080";
    let response = exec_ok(&driver, &machine.handle, &["/bin/sh", "-c", request]).await;
    assert!(
        response.contains("hello from a hangar machine"),
        "loopback inside: {response}"
    );
    let interfaces = exec_ok(&driver, &machine.handle, &["ls", "/sys/class/net"]).await;
    assert_eq!(
        interfaces.split_whitespace().collect::<Vec<_>>(),
        ["lo"],
        "a machine without a network has only lo"
    );
    machine.destroy(&driver).await;
}
