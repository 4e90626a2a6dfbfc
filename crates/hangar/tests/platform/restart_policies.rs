//! What happens when a Machine's main process exits on its own: restart
//! policies, auto_destroy, standbys, stop signals.

use std::time::Duration;

use hangar_types::{CreateMachineRequest, MachineRestart, MachineState, RestartPolicy, StopConfig};

use crate::support::*;

fn exit_events(events: &[hangar_types::MachineEvent]) -> Vec<&hangar_types::MachineEvent> {
    events.iter().filter(|e| e.kind == "exit").collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_failure_retries_then_stops_and_standbys_take_over() {
    if hangar_testbed::skip_unless_root("on_failure_retries_then_stops_and_standbys_take_over") {
        return;
    }
    let tb = testbed().await;
    let Some(image) = http_image(&tb, "crashy") else {
        return;
    };
    create_app(&tb, "crashy").await;
    let mut cfg = config(&image.reference);
    cfg.init = Some(hangar_types::MachineInit {
        cmd: vec!["/bin/sh".into(), "-c".into(), "exit 7".into()],
        ..Default::default()
    });
    cfg.restart = Some(MachineRestart {
        policy: Some(RestartPolicy::OnFailure),
        max_retries: Some(2),
    });
    let crashy = tb
        .client
        .create_machine(
            "crashy",
            &CreateMachineRequest {
                config: cfg,
                skip_launch: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    // A standby for it, kept stopped until it fails for good.
    let mut standby_cfg = config(&image.reference);
    standby_cfg.standbys = vec![crashy.id.clone()];
    let standby = tb
        .client
        .create_machine(
            "crashy",
            &CreateMachineRequest {
                config: standby_cfg,
                skip_launch: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    tb.client.start_machine("crashy", &crashy.id).await.unwrap();
    let events = hangar_testbed::wait_until_async(
        "three exits then stopped",
        Duration::from_secs(30),
        || async {
            let m = tb
                .client
                .get_machine("crashy", &crashy.id)
                .await
                .map_err(|e| e.to_string())?;
            let events = tb
                .client
                .machine_events("crashy", &crashy.id)
                .await
                .map_err(|e| e.to_string())?;
            if m.state == MachineState::Stopped && exit_events(&events).len() == 3 {
                Ok(events)
            } else {
                Err(format!(
                    "{} with {} exits",
                    m.state,
                    exit_events(&events).len()
                ))
            }
        },
    )
    .await;
    let last = exit_events(&events)[0].request.clone().unwrap();
    assert_eq!(last["exit_event"]["exit_code"], 7);
    assert_eq!(last["exit_event"]["restarting"], false);
    assert_eq!(last["restart_count"], 2);
    wait_state(&tb, "crashy", &standby.id, MachineState::Started).await;
    tb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_destroy_and_always_and_stop_signals() {
    if hangar_testbed::skip_unless_root("auto_destroy_and_always_and_stop_signals") {
        return;
    }
    let tb = testbed().await;
    let Some(image) = http_image(&tb, "policies") else {
        return;
    };
    create_app(&tb, "policies").await;

    // policy "no" + auto_destroy: a finished job disappears.
    let mut job = config(&image.reference);
    job.init = Some(hangar_types::MachineInit {
        cmd: vec!["/bin/sh".into(), "-c".into(), "echo done".into()],
        ..Default::default()
    });
    job.restart = Some(MachineRestart {
        policy: Some(RestartPolicy::No),
        max_retries: None,
    });
    job.auto_destroy = Some(true);
    let job = create_machine(&tb, "policies", job).await;
    wait_state(&tb, "policies", &job.id, MachineState::Destroyed).await;

    // policy "always": even a clean exit comes back.
    let mut always = config(&image.reference);
    always.init = Some(hangar_types::MachineInit {
        cmd: vec!["/bin/sh".into(), "-c".into(), "sleep 0.2; exit 0".into()],
        ..Default::default()
    });
    always.restart = Some(MachineRestart {
        policy: Some(RestartPolicy::Always),
        max_retries: None,
    });
    let always = create_machine(&tb, "policies", always).await;
    hangar_testbed::wait_until_async("two restarts", Duration::from_secs(20), || async {
        let events = tb
            .client
            .machine_events("policies", &always.id)
            .await
            .map_err(|e| e.to_string())?;
        let n = events.iter().filter(|e| e.kind == "restart").count();
        if n >= 2 {
            Ok(())
        } else {
            Err(format!("{n} restarts so far"))
        }
    })
    .await;
    tb.client
        .stop_machine("policies", &always.id, None)
        .await
        .unwrap();
    wait_state(&tb, "policies", &always.id, MachineState::Stopped).await;

    // stop_config: the configured signal is what the process receives.
    let mut trap = config(&image.reference);
    trap.init = Some(hangar_types::MachineInit {
        cmd: vec![
            "/bin/sh".into(),
            "-c".into(),
            "trap 'echo got-usr1; exit 0' USR1; echo ready; while true; do sleep 0.1; done".into(),
        ],
        ..Default::default()
    });
    trap.stop_config = Some(StopConfig {
        signal: Some("SIGUSR1".into()),
        timeout: Some(hangar_types::GoDuration::from_secs(10)),
    });
    let trap = create_machine(&tb, "policies", trap).await;
    wait_log(&tb, "policies", &trap.id, "ready").await;
    tb.client
        .stop_machine("policies", &trap.id, None)
        .await
        .unwrap();
    wait_state(&tb, "policies", &trap.id, MachineState::Stopped).await;
    wait_log(&tb, "policies", &trap.id, "got-usr1").await;
    let events = tb
        .client
        .machine_events("policies", &trap.id)
        .await
        .unwrap();
    let exit = exit_events(&events)[0].request.clone().unwrap();
    assert_eq!(
        exit["exit_event"]["exit_code"], 0,
        "the trap ran: exited cleanly, not killed"
    );
    assert_eq!(exit["exit_event"]["requested_stop"], true);

    // A process that ignores its stop signal is killed after the timeout.
    let mut stubborn = config(&image.reference);
    stubborn.init = Some(hangar_types::MachineInit {
        cmd: vec![
            "/bin/sh".into(),
            "-c".into(),
            "trap '' INT TERM; echo ready; while true; do sleep 0.1; done".into(),
        ],
        ..Default::default()
    });
    stubborn.stop_config = Some(StopConfig {
        signal: None,
        timeout: Some(hangar_types::GoDuration(Duration::from_millis(500))),
    });
    let stubborn = create_machine(&tb, "policies", stubborn).await;
    wait_log(&tb, "policies", &stubborn.id, "ready").await;
    tb.client
        .stop_machine("policies", &stubborn.id, None)
        .await
        .unwrap();
    wait_state(&tb, "policies", &stubborn.id, MachineState::Stopped).await;
    tb.stop().await;
}

async fn wait_log(tb: &hangar_testbed::Testbed, app: &str, id: &str, text: &str) {
    use futures_util::StreamExt;
    hangar_testbed::wait_until_async(
        &format!("log line {text:?}"),
        Duration::from_secs(20),
        || async {
            let mut lines = tb
                .client
                .machine_logs(
                    app,
                    id,
                    &hangar_client::LogOptions {
                        follow: false,
                        tail: Some(1000),
                    },
                )
                .await
                .map_err(|e| e.to_string())?;
            while let Some(line) = lines.next().await {
                if line.map_err(|e| e.to_string())?.message == text {
                    return Ok(());
                }
            }
            Err("not yet".to_string())
        },
    )
    .await
}
