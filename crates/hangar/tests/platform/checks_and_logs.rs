//! Machine checks reported in `checks`, and logs that follow.

use std::time::Duration;

use futures_util::StreamExt;
use hangar_client::LogOptions;
use hangar_types::{GoDuration, MachineCheck};

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checks_report_passing_and_critical() {
    if hangar_testbed::skip_unless_root("checks_report_passing_and_critical") {
        return;
    }
    let tb = testbed().await;
    let Some(image) = http_image(&tb, "checks") else {
        return;
    };
    create_app(&tb, "checks").await;
    let mut cfg = config(&image.reference);
    let quick = |kind: &str, port: i64, path: Option<&str>| MachineCheck {
        check_type: Some(kind.into()),
        port: Some(port),
        path: path.map(String::from),
        interval: Some(GoDuration(Duration::from_millis(200))),
        timeout: Some(GoDuration(Duration::from_secs(1))),
        ..Default::default()
    };
    cfg.checks
        .insert("web".into(), quick("http", 8080, Some("/")));
    cfg.checks
        .insert("missing-page".into(), quick("http", 8080, Some("/nope")));
    cfg.checks
        .insert("closed-port".into(), quick("tcp", 9999, None));
    let m = create_machine(&tb, "checks", cfg).await;
    let checks = hangar_testbed::wait_until_async(
        "all three checks to report",
        Duration::from_secs(20),
        || async {
            let m = tb
                .client
                .get_machine("checks", &m.id)
                .await
                .map_err(|e| e.to_string())?;
            let status = |name: &str| {
                m.checks
                    .iter()
                    .find(|c| c.name == name)
                    .map(|c| c.status.clone())
            };
            match (status("web"), status("missing-page"), status("closed-port")) {
                (Some(a), Some(b), Some(c))
                    if a == "passing" && b == "critical" && c == "critical" =>
                {
                    Ok(m.checks)
                }
                other => Err(format!("{other:?}")),
            }
        },
    )
    .await;
    let web = checks.iter().find(|c| c.name == "web").unwrap();
    assert!(web.output.contains("200"), "{}", web.output);
    let missing = checks.iter().find(|c| c.name == "missing-page").unwrap();
    assert!(missing.output.contains("404"), "{}", missing.output);
    // A stopped machine reports no checks running.
    tb.client.stop_machine("checks", &m.id, None).await.unwrap();
    wait_state(&tb, "checks", &m.id, hangar_types::MachineState::Stopped).await;
    tb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_follow_new_lines() {
    if hangar_testbed::skip_unless_root("logs_follow_new_lines") {
        return;
    }
    let tb = testbed().await;
    let Some(image) = http_image(&tb, "ticker") else {
        return;
    };
    create_app(&tb, "ticker").await;
    let mut cfg = config(&image.reference);
    cfg.init = Some(hangar_types::MachineInit {
        cmd: vec![
            "/bin/sh".into(),
            "-c".into(),
            "i=0; while true; do i=$((i+1)); echo tick $i; echo tock $i >&2; sleep 0.1; done"
                .into(),
        ],
        ..Default::default()
    });
    let m = create_machine(&tb, "ticker", cfg).await;
    let mut stream = tb
        .client
        .machine_logs(
            "ticker",
            &m.id,
            &LogOptions {
                follow: true,
                tail: Some(0),
            },
        )
        .await
        .unwrap();
    let mut seen = Vec::new();
    let collect = async {
        while let Some(line) = stream.next().await {
            let line = line.unwrap();
            seen.push((line.stream.clone(), line.message.clone()));
            if seen.len() >= 6 {
                break;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(20), collect)
        .await
        .expect("followed lines arrive");
    assert!(
        seen.iter()
            .any(|(s, m)| s == "stdout" && m.starts_with("tick ")),
        "{seen:?}"
    );
    assert!(
        seen.iter()
            .any(|(s, m)| s == "stderr" && m.starts_with("tock ")),
        "{seen:?}"
    );
    drop(stream);
    tb.stop().await;
}
