//! kill -9 of `hangar dev` while Machines start and stop: after a restart
//! every Machine settles into the state it should be in, and no Machine,
//! event or log line already written is lost.

use std::time::Duration;

use futures_util::StreamExt;
use hangar_client::{Client, LogOptions};
use hangar_types::{CreateAppRequest, CreateMachineRequest, MachineState};

use crate::support::{alive_image, config, http_get, networks, DevProcess};

/// `hangar dev` on its own network, apart from any other on this host.
async fn start_dev(data: &std::path::Path) -> (DevProcess, Client) {
    let dev = DevProcess::builder(data)
        .args(["--region", "crash"])
        .args(networks::CRASH_RECOVERY.args())
        .start()
        .await;
    let client = dev.client();
    (dev, client)
}

async fn log_messages(client: &Client, app: &str, id: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut lines = client
        .machine_logs(
            app,
            id,
            &LogOptions {
                follow: false,
                tail: Some(10_000),
            },
        )
        .await
        .unwrap();
    while let Some(line) = lines.next().await {
        out.push(line.unwrap().message);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_while_machines_start_and_stop_loses_nothing() {
    if hangar_testbed::skip_unless_root("kill_9_while_machines_start_and_stop_loses_nothing") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let Some(image) = alive_image(dir.path()) else {
        return;
    };
    let (dev, client) = start_dev(&data).await;
    client
        .create_app(&CreateAppRequest {
            app_name: Some("crash".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let (shared_client, shared_image) = (client.clone(), image.reference.clone());
    let create = move |skip: bool| {
        let client = shared_client.clone();
        let image = shared_image.clone();
        async move {
            client
                .create_machine(
                    "crash",
                    &CreateMachineRequest {
                        config: config(&image),
                        skip_launch: Some(skip),
                        ..Default::default()
                    },
                )
                .await
                .unwrap()
        }
    };
    let running = create(false).await;
    let stopped = create(false).await;
    let created = create(true).await;
    let suspended = create(false).await;
    let toggled = create(false).await;
    client
        .stop_machine("crash", &stopped.id, None)
        .await
        .unwrap();
    client
        .suspend_machine("crash", &suspended.id)
        .await
        .unwrap();
    hangar_testbed::wait_until_async(
        "settled before the crash",
        Duration::from_secs(30),
        || async {
            let m = client
                .get_machine("crash", &stopped.id)
                .await
                .map_err(|e| e.to_string())?;
            if m.state == MachineState::Stopped {
                Ok(())
            } else {
                Err(m.state.to_string())
            }
        },
    )
    .await;
    hangar_testbed::wait_until_async(
        "the boot line to be logged",
        Duration::from_secs(30),
        || async {
            let logs = log_messages(&client, "crash", &running.id).await;
            if logs.iter().any(|l| l == "booted") {
                Ok(())
            } else {
                Err(logs.len())
            }
        },
    )
    .await;
    let events_before = client.machine_events("crash", &running.id).await.unwrap();
    let logs_before = log_messages(&client, "crash", &running.id).await;

    // Work in flight when the process dies.
    let in_flight = {
        let client = client.clone();
        let id = toggled.id.clone();
        tokio::spawn(async move {
            for _ in 0..20 {
                let _ = client.stop_machine("crash", &id, None).await;
                let _ = client.start_machine("crash", &id).await;
            }
        })
    };
    let extra = {
        let create = create.clone();
        tokio::spawn(async move { create(false).await })
    };
    tokio::time::sleep(Duration::from_millis(150)).await;
    dev.kill();
    in_flight.abort();
    extra.abort();

    let (dev, client) = start_dev(&data).await;
    // Every machine settles; each keeps the state it had.
    let machines = hangar_testbed::wait_until_async(
        "every machine to settle",
        Duration::from_secs(60),
        || async {
            let list = client
                .list_machines("crash", &Default::default())
                .await
                .map_err(|e| e.to_string())?;
            if list.iter().all(|m| m.state.is_settled()) {
                Ok(list)
            } else {
                Err(format!(
                    "{:?}",
                    list.iter().map(|m| m.state).collect::<Vec<_>>()
                ))
            }
        },
    )
    .await;
    let state_of = |id: &str| machines.iter().find(|m| m.id == id).map(|m| m.state);
    assert_eq!(state_of(&running.id), Some(MachineState::Started));
    assert_eq!(state_of(&stopped.id), Some(MachineState::Stopped));
    assert_eq!(state_of(&created.id), Some(MachineState::Created));
    assert_eq!(state_of(&suspended.id), Some(MachineState::Suspended));
    assert!(matches!(
        state_of(&toggled.id),
        Some(MachineState::Started | MachineState::Stopped)
    ));
    for m in &machines {
        assert_ne!(
            m.state,
            MachineState::Failed,
            "machine {} failed after recovery",
            m.id
        );
    }
    // The started machine serves again.
    let running_now = machines.iter().find(|m| m.id == running.id).unwrap();
    let url = format!(
        "http://{}:8080/",
        running_now.private_ipv4.as_deref().unwrap()
    );
    let body = hangar_testbed::wait_until_async(
        "the recovered machine to serve",
        Duration::from_secs(20),
        || http_get(&url),
    )
    .await;
    assert_eq!(body, "alive\n");
    // Nothing written before the crash is lost.
    let events_after = client.machine_events("crash", &running.id).await.unwrap();
    for e in &events_before {
        assert!(
            events_after.iter().any(|a| a.id == e.id),
            "event {} lost",
            e.id
        );
    }
    let logs_after = log_messages(&client, "crash", &running.id).await;
    assert!(
        logs_after.starts_with(&logs_before),
        "log lines lost: before {logs_before:?} after {logs_after:?}"
    );
    // A suspended machine whose memory was lost boots cold on start.
    client.start_machine("crash", &suspended.id).await.unwrap();
    let m = client.get_machine("crash", &suspended.id).await.unwrap();
    assert_eq!(m.state, MachineState::Started);
    // The recovered platform still stops cleanly, as Ctrl-C does.
    let status = dev.stop();
    assert!(status.success(), "hangar dev exited with {status}");
}
