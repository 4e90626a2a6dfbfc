//! Isolation as root: a Machine sees only its own processes and files, and
//! exceeding its memory limit kills it with an out-of-memory event.

use std::time::Duration;

use hangar_types::{ExecRequest, MachineGuest, MachineRestart, MachineState, RestartPolicy};

use crate::support::*;

fn sh(cmd: &str) -> ExecRequest {
    ExecRequest {
        command: vec!["/bin/sh".into(), "-c".into(), cmd.into()],
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn machines_see_only_themselves() {
    if hangar_testbed::skip_unless_root("machines_see_only_themselves") {
        return;
    }
    let tb = testbed().await;
    let Some(image) = http_image(&tb, "iso") else {
        return;
    };
    create_app(&tb, "iso").await;
    let a = create_machine(&tb, "iso", config(&image.reference)).await;
    let b = create_machine(&tb, "iso", config(&image.reference)).await;
    // Processes: only the machine's own (init, shell/httpd, and the exec).
    let ps = tb
        .client
        .exec_machine("iso", &a.id, &sh("ls -d /proc/[0-9]* | wc -l"))
        .await
        .unwrap();
    let count: usize = ps.stdout.trim().parse().unwrap();
    assert!(
        count <= 8,
        "a machine sees only its own processes, saw {count}"
    );
    let host_pid = std::process::id();
    let seen = tb
        .client
        .exec_machine(
            "iso",
            &a.id,
            &sh(&format!(
                "test -e /proc/{host_pid} && echo visible || echo hidden"
            )),
        )
        .await
        .unwrap();
    // The test process's pid may collide with a small in-machine pid only if it is tiny.
    if host_pid > 10 {
        assert_eq!(seen.stdout.trim(), "hidden");
    }
    // Files: each machine has its own writable root.
    tb.client
        .exec_machine("iso", &a.id, &sh("echo secret > /tmp/a-secret"))
        .await
        .unwrap();
    let other = tb
        .client
        .exec_machine("iso", &b.id, &sh("cat /tmp/a-secret 2>&1; ls /tmp"))
        .await
        .unwrap();
    assert!(
        !other.stdout.contains("secret\n"),
        "machine b read a's file: {}",
        other.stdout
    );
    // Machines reach each other over the private network.
    let reach = tb
        .client
        .exec_machine(
            "iso",
            &b.id,
            &sh(&format!(
                "wget -q -O - http://{}:8080/",
                a.private_ipv4.as_deref().unwrap()
            )),
        )
        .await
        .unwrap();
    assert_eq!(
        reach.stdout, "hello from a hangar machine\n",
        "{}",
        reach.stderr
    );
    // The host's root filesystem is not there.
    let root = tb
        .client
        .exec_machine(
            "iso",
            &a.id,
            &sh("test -d /root/.cargo && echo leaked || echo clean"),
        )
        .await
        .unwrap();
    assert_eq!(root.stdout.trim(), "clean");
    tb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exceeding_memory_kills_with_an_oom_event() {
    if hangar_testbed::skip_unless_root("exceeding_memory_kills_with_an_oom_event") {
        return;
    }
    let tb = testbed().await;
    let Some(image) = http_image(&tb, "oom") else {
        return;
    };
    create_app(&tb, "oom").await;
    let mut cfg = config(&image.reference);
    cfg.guest = Some(MachineGuest {
        memory_mb: Some(64),
        cpus: Some(1),
        ..Default::default()
    });
    cfg.restart = Some(MachineRestart {
        policy: Some(RestartPolicy::No),
        max_retries: None,
    });
    // Doubles a shell variable until the memory limit is hit.
    cfg.init = Some(hangar_types::MachineInit {
        cmd: vec![
            "/bin/sh".into(),
            "-c".into(),
            "x=xxxxxxxxxxxxxxxx; while true; do x=$x$x; done".into(),
        ],
        ..Default::default()
    });
    let m = create_machine(&tb, "oom", cfg).await;
    let exit =
        hangar_testbed::wait_until_async("an oom exit event", Duration::from_secs(30), || async {
            let events = tb
                .client
                .machine_events("oom", &m.id)
                .await
                .map_err(|e| e.to_string())?;
            events
                .into_iter()
                .find(|e| e.kind == "exit")
                .and_then(|e| e.request)
                .ok_or_else(|| "no exit yet".to_string())
        })
        .await;
    assert_eq!(exit["exit_event"]["oom_killed"], true, "{exit}");
    let machine = wait_state(&tb, "oom", &m.id, MachineState::Stopped).await;
    assert_eq!(machine.state, MachineState::Stopped);
    tb.stop().await;
}
