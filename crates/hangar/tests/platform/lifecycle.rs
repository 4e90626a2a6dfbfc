//! A Machine's whole life through the API: create from an OCI image the
//! test builds, reach its HTTP port on its private IP, stop, start,
//! suspend, resume, exec, logs, events, update, destroy.

use std::time::Duration;

use futures_util::StreamExt;
use hangar_client::{DestroyOptions, ListMachinesOptions, LogOptions};
use hangar_testbed::skip_unless_root;
use hangar_types::{ExecRequest, MachineState, UpdateMachineRequest};

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_machine_lives_and_dies_through_the_api() {
    if skip_unless_root("a_machine_lives_and_dies_through_the_api") {
        return;
    }
    let tb = testbed().await;
    let Some(image) = http_image(&tb, "web") else {
        return;
    };
    create_app(&tb, "web").await;
    let mut cfg = config(&image.reference);
    cfg.env.insert("GREETING".into(), "hi".into());
    cfg.metadata
        .insert("fly_process_group".into(), "web".into());
    let machine = create_machine(&tb, "web", cfg).await;
    assert_eq!(machine.state, MachineState::Started);
    assert_eq!(machine.id.len(), 14);
    let url = url_of(&machine);
    assert_eq!(wait_http(&url).await, "hello from a hangar machine\n");
    // The address is also reachable over IPv6.
    wait_http(&format!("http://[{}]:8080/", machine.private_ip)).await;

    // Environment, hostname and process group as Fly sets them.
    let exec = |cmd: &str| ExecRequest {
        command: vec!["/bin/sh".into(), "-c".into(), cmd.into()],
        ..Default::default()
    };
    let out = tb
        .client
        .exec_machine("web", &machine.id, &exec("echo $GREETING $FLY_APP_NAME $FLY_PROCESS_GROUP $(hostname); echo oops >&2; exit 3"))
        .await
        .unwrap();
    assert_eq!(out.exit_code, 3);
    assert_eq!(out.stdout, format!("hi web web {}\n", machine.id));
    assert_eq!(out.stderr, "oops\n");
    // The deprecated `cmd` string form is split like a shell would.
    let legacy = tb
        .client
        .exec_machine(
            "web",
            &machine.id,
            &ExecRequest {
                cmd: Some("echo 'two words'".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(legacy.stdout, "two words\n");
    // ps lists the machine's processes, its init as pid 1 and httpd listening.
    let ps = tb
        .client
        .machine_processes("web", &machine.id)
        .await
        .unwrap();
    assert!(ps.iter().any(|p| p.pid == 1), "{ps:?}");
    assert!(ps.iter().any(|p| p.command.contains("httpd")), "{ps:?}");
    // Cordon takes it out of routing without stopping it.
    tb.client.cordon_machine("web", &machine.id).await.unwrap();
    let cordoned = tb.client.get_machine("web", &machine.id).await.unwrap();
    assert!(cordoned.cordoned);
    assert_eq!(cordoned.state, MachineState::Started);
    tb.client
        .uncordon_machine("web", &machine.id)
        .await
        .unwrap();
    assert!(
        !tb.client
            .get_machine("web", &machine.id)
            .await
            .unwrap()
            .cordoned
    );

    // Stop: the server goes away; start: it comes back.
    tb.client
        .stop_machine("web", &machine.id, None)
        .await
        .unwrap();
    wait_state(&tb, "web", &machine.id, MachineState::Stopped).await;
    assert!(
        http_get(&url).await.is_err(),
        "a stopped machine must not answer"
    );
    let started = tb.client.start_machine("web", &machine.id).await.unwrap();
    assert_eq!(started.previous_state, "stopped");
    wait_http(&url).await;

    // Suspend freezes it; start resumes the same processes.
    let before = tb
        .client
        .exec_machine(
            "web",
            &machine.id,
            &exec("cat /proc/1/stat | cut -d' ' -f22"),
        )
        .await
        .unwrap()
        .stdout;
    tb.client.suspend_machine("web", &machine.id).await.unwrap();
    wait_state(&tb, "web", &machine.id, MachineState::Suspended).await;
    let resumed = tb.client.start_machine("web", &machine.id).await.unwrap();
    assert_eq!(resumed.previous_state, "suspended");
    wait_http(&url).await;
    let after = tb
        .client
        .exec_machine(
            "web",
            &machine.id,
            &exec("cat /proc/1/stat | cut -d' ' -f22"),
        )
        .await
        .unwrap()
        .stdout;
    assert_eq!(
        before, after,
        "resume must continue the same init process, not boot a new one"
    );

    // Logs hold the boot lines of both boots.
    let mut logs = tb
        .client
        .machine_logs(
            "web",
            &machine.id,
            &LogOptions {
                follow: false,
                tail: Some(100),
            },
        )
        .await
        .unwrap();
    let mut boots = 0;
    while let Some(line) = logs.next().await {
        if line.unwrap().message == format!("booted {} in dev", machine.id) {
            boots += 1;
        }
    }
    assert_eq!(boots, 2, "one boot line per boot from stopped");

    // Events, newest first.
    let events = tb.client.machine_events("web", &machine.id).await.unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds.last(), Some(&"launch"));
    assert!(kinds.contains(&"stop") && kinds.contains(&"suspend") && kinds.contains(&"exit"));
    assert!(events.windows(2).all(|w| w[0].timestamp >= w[1].timestamp));

    // Update: a new version replaces the running one.
    let mut cfg2 = tb
        .client
        .get_machine("web", &machine.id)
        .await
        .unwrap()
        .config;
    cfg2.env.insert("GREETING".into(), "hello-again".into());
    let updated = tb
        .client
        .update_machine(
            "web",
            &machine.id,
            &UpdateMachineRequest {
                config: cfg2,
                current_version: Some(machine.instance_id.clone()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_ne!(updated.instance_id, machine.instance_id);
    wait_state(&tb, "web", &machine.id, MachineState::Started).await;
    let out = tb
        .client
        .exec_machine("web", &machine.id, &exec("echo $GREETING"))
        .await
        .unwrap();
    assert_eq!(out.stdout, "hello-again\n");
    let versions = tb
        .client
        .machine_versions("web", &machine.id)
        .await
        .unwrap();
    assert_eq!(versions.len(), 2);

    // Destroy: refused while started without force, then gone.
    let refused = tb
        .client
        .destroy_machine("web", &machine.id, DestroyOptions::default())
        .await
        .unwrap_err();
    assert_eq!(refused.status(), Some(412), "{refused}");
    tb.client
        .destroy_machine(
            "web",
            &machine.id,
            DestroyOptions {
                force: true,
                kill: false,
            },
        )
        .await
        .unwrap();
    wait_state(&tb, "web", &machine.id, MachineState::Destroyed).await;
    assert!(tb
        .client
        .list_machines("web", &ListMachinesOptions::default())
        .await
        .unwrap()
        .is_empty());
    let all = tb
        .client
        .list_machines(
            "web",
            &ListMachinesOptions {
                include_deleted: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(all.len(), 1);
    assert!(http_get(&url).await.is_err());
    tb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_filters_by_region_and_metadata() {
    if skip_unless_root("list_filters_by_region_and_metadata") {
        return;
    }
    let tb = testbed().await;
    let Some(image) = http_image(&tb, "filters") else {
        return;
    };
    create_app(&tb, "filters").await;
    let mut a = config(&image.reference);
    a.metadata.insert("role".into(), "db".into());
    let a = tb
        .client
        .create_machine(
            "filters",
            &hangar_types::CreateMachineRequest {
                config: a,
                skip_launch: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        a.state,
        MachineState::Created,
        "skip_launch leaves the machine created"
    );
    let b = config(&image.reference);
    tb.client
        .create_machine(
            "filters",
            &hangar_types::CreateMachineRequest {
                config: b,
                skip_launch: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let by_meta = tb
        .client
        .list_machines(
            "filters",
            &ListMachinesOptions {
                metadata: [("role".to_string(), "db".to_string())].into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        by_meta.iter().map(|m| m.id.clone()).collect::<Vec<_>>(),
        vec![a.id.clone()]
    );
    let elsewhere = tb
        .client
        .list_machines(
            "filters",
            &ListMachinesOptions {
                region: Some("ams".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(elsewhere.is_empty());
    // Metadata set through its endpoint does not make a new version.
    tb.client
        .set_machine_metadata("filters", &a.id, "tier", "gold")
        .await
        .unwrap();
    let meta = tb.client.machine_metadata("filters", &a.id).await.unwrap();
    assert_eq!(meta.get("tier").map(String::as_str), Some("gold"));
    assert_eq!(
        tb.client
            .get_machine("filters", &a.id)
            .await
            .unwrap()
            .instance_id,
        a.instance_id
    );
    // Wait honours its timeout with 408.
    let err = tb
        .client
        .wait_for_state(
            "filters",
            &a.id,
            &hangar_client::WaitOptions::new(MachineState::Started, Duration::from_secs(1)),
        )
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(408), "{err}");
    tb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_machine_keeps_its_hardware_address() {
    if skip_unless_root("a_restarted_machine_keeps_its_hardware_address") {
        return;
    }
    let tb = testbed().await;
    let Some(image) = http_image(&tb, "mac") else {
        return;
    };
    create_app(&tb, "mac").await;
    let machine = create_machine(&tb, "mac", config(&image.reference)).await;
    let url = url_of(&machine);
    wait_http(&url).await;
    let ipv4 = machine.private_ipv4.clone().expect("private IPv4");
    let mac = || async {
        let out = tb
            .client
            .exec_machine(
                "mac",
                &machine.id,
                &ExecRequest {
                    command: vec!["cat".into(), "/sys/class/net/eth0/address".into()],
                    ..Default::default()
                },
            )
            .await
            .expect("exec");
        out.stdout.trim().to_string()
    };
    // The host learnt the Machine's address by talking to it.
    let host_entry = || {
        let out = std::process::Command::new("ip")
            .args(["neigh", "show", &ipv4])
            .output()
            .expect("ip neigh");
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let before = mac().await;
    assert!(
        host_entry().contains(&before),
        "the host's neighbour entry for {ipv4} names {before}: {}",
        host_entry()
    );

    tb.client
        .stop_machine("mac", &machine.id, None)
        .await
        .unwrap();
    wait_state(&tb, "mac", &machine.id, MachineState::Stopped).await;
    tb.client.start_machine("mac", &machine.id).await.unwrap();
    wait_state(&tb, "mac", &machine.id, MachineState::Started).await;

    // Same address, same hardware address: the host's entry is still right,
    // so the first connection after a start does not stall on it.
    assert_eq!(
        mac().await,
        before,
        "a new MAC would leave the host's entry stale"
    );
    assert_eq!(wait_http(&url).await, "hello from a hangar machine\n");
    tb.stop().await;
}
