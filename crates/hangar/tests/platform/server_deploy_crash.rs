//! A deploy survives its control plane: `hangar dev` is killed with SIGKILL
//! while a rolling deploy waits for its Machines' checks, started again on
//! the same data directory, and the deploy finishes on its own.

use std::time::Duration;

use futures_util::StreamExt;
use hangar_types::{DeployState, ReleaseStatus};

use crate::server_deploys_support::*;
use crate::support::alive_image;
use crate::support::networks::{self, DevNetwork};

/// This test's network, apart from any other `hangar dev` on this host.
const NETWORK: &DevNetwork = &networks::DEPLOY_CRASH;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deploy_finishes_after_its_control_plane_is_killed_and_restarted() {
    if hangar_testbed::skip_unless_root(
        "a_deploy_finishes_after_its_control_plane_is_killed_and_restarted",
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let Some(image) = alive_image(dir.path()) else {
        return;
    };
    let data = dir.path().join("data");
    let app = "survivor";
    let first = request(&image.reference, &fly_toml(app, "v1", false, ""));
    let (dev, client) = start_dev_with_app_deployed(&data, NETWORK, app, &first).await;

    // v2 boots slowly, so the deploy is still waiting when the control
    // plane dies.
    let slow = "\n[experimental]\n  cmd = [\"/bin/sh\", \"-c\", \"sleep 3; exec httpd -f -p 8080 -h /www\"]\n";
    let mut req = request(&image.reference, &fly_toml(app, "v2", false, slow));
    req.max_unavailable = Some(1.0);
    let second = client.create_deploy(app, &req).await.unwrap();
    hangar_testbed::wait_until_async(
        "the deploy to update a machine",
        Duration::from_secs(60),
        || async {
            let mut events = client
                .deploy_events(app, &second.id, 0, false)
                .await
                .map_err(|e| e.to_string())?;
            while let Some(event) = events.next().await {
                if event.map_err(|e| e.to_string())?.phase == "update" {
                    return Ok(());
                }
            }
            Err("no update yet".to_string())
        },
    )
    .await;
    dev.kill();

    let (_dev, client) = start_dev(&data, NETWORK).await;
    let done = wait_final(&client, app, &second.id).await;
    let mut events = client
        .deploy_events(app, &second.id, 0, false)
        .await
        .unwrap();
    let mut log = Vec::new();
    while let Some(e) = events.next().await {
        let e = e.unwrap();
        log.push(format!("[{}] {}", e.phase, e.message));
    }
    assert_eq!(done.state, DeployState::Succeeded, "{}", log.join("\n"));
    let machines = client
        .list_machines(app, &Default::default())
        .await
        .unwrap();
    assert_eq!(machines.len(), 2, "{machines:#?}");
    for m in &machines {
        assert_eq!(
            m.config.env.get("MARK").map(String::as_str),
            Some("v2"),
            "{}",
            log.join("\n")
        );
    }
    assert_eq!(
        client.list_releases(app).await.unwrap()[0].status,
        ReleaseStatus::Complete
    );
}
