//! One-off Machines do not outlive a dead control plane: `hangar dev` is
//! killed with SIGKILL while a deploy's release command Machine runs, and
//! again while its machine check's test Machine runs. Each time the deploy
//! resumes on restart, destroys the Machine the dead run left, runs the
//! command or check again, and it ends with no one-off Machine in the app;
//! a check that fails again after the restart reverts the deploy.

use std::time::Duration;

use futures_util::StreamExt;
use hangar_client::Client;
use hangar_types::{DeployEvent, DeployState, MachineState, ReleaseStatus};

use crate::server_deploys_support::*;
use crate::support::networks::{self, DevNetwork};
use crate::support::{alive_image, DevProcess};

/// Metadata naming what a one-off Machine does for its deploy.
const ROLE: &str = "hangar_deploy_role";

/// This test's network, apart from any other `hangar dev` on this host.
const NETWORK: &DevNetwork = &networks::DEPLOY_ONE_OFFS;

/// Waits until the one-off Machine of `role` runs; its id.
async fn wait_one_off_started(client: &Client, app: &str, role: &str) -> String {
    hangar_testbed::wait_until_async(
        &format!("the {role} machine to run"),
        Duration::from_secs(120),
        || async {
            let machines = client
                .list_machines(app, &Default::default())
                .await
                .map_err(|e| e.to_string())?;
            machines
                .iter()
                .find(|m| {
                    m.state == MachineState::Started
                        && m.config.metadata.get(ROLE).map(String::as_str) == Some(role)
                })
                .map(|m| m.id.clone())
                .ok_or_else(|| format!("{machines:#?}"))
        },
    )
    .await
}

/// Every event of the deploy so far.
async fn all_events(client: &Client, app: &str, id: &str) -> Vec<DeployEvent> {
    let mut stream = client.deploy_events(app, id, 0, false).await.unwrap();
    let mut events = Vec::new();
    while let Some(event) = stream.next().await {
        events.push(event.unwrap());
    }
    events
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_off_machines_left_by_a_killed_control_plane_are_destroyed_on_resume() {
    let test = "one_off_machines_left_by_a_killed_control_plane_are_destroyed_on_resume";
    if hangar_testbed::skip_unless_root(test) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let Some(image) = alive_image(dir.path()) else {
        return;
    };
    let data = dir.path().join("data");
    let app = "one-offs";
    let mut first = request(&image.reference, &fly_toml(app, "v1", false, ""));
    first.ha = Some(false);
    let (dev, client) = start_dev_with_app_deployed(&data, NETWORK, app, &first).await;

    // The release command and the machine check each run for a while, so
    // the control plane can be killed while their Machine runs.
    let release_command = "\n[deploy]\n  release_command = \"sleep 4\"\n";
    let check = "  [[http_service.machine_checks]]\n    command = [\"sh\", \"-c\", \"sleep 4; echo checked $FLY_TEST_MACHINE_IP\"]\n";
    let toml =
        fly_toml(app, "v2", false, release_command).replace("[[vm]]", &format!("{check}\n[[vm]]"));
    let mut second = request(&image.reference, &toml);
    second.ha = Some(false);
    let second = client.create_deploy(app, &second).await.unwrap();

    let release_machine = wait_one_off_started(&client, app, "release_command").await;
    dev.kill();
    let (dev, client) = start_dev(&data, NETWORK).await;
    let test_machine = wait_one_off_started(&client, app, "machine_check").await;
    dev.kill();
    let (dev, client) = start_dev(&data, NETWORK).await;

    let done = wait_final(&client, app, &second.id).await;
    let events = all_events(&client, app, &second.id).await;
    let log = messages(&events);
    assert_eq!(done.state, DeployState::Succeeded, "{log}");
    for (what, id) in [
        ("release command machine", &release_machine),
        ("machine check test machine", &test_machine),
    ] {
        assert!(
            events
                .iter()
                .any(|e| e.phase == "cleanup"
                    && e.message == format!("destroyed leftover {what} {id}")),
            "the resumed deploy destroys the {what} the killed one left: {log}"
        );
    }
    assert!(
        log.contains("[release_command] release command succeeded"),
        "{log}"
    );
    assert!(log.contains("[machine_check] passed"), "{log}");

    assert_only_the_app_machine(&client, app, "v2", &log).await;
    assert_eq!(
        client.list_releases(app).await.unwrap()[0].status,
        ReleaseStatus::Complete
    );
    // Cordoned for its update before the kill, it serves again.
    assert_serves(&dev, app).await;

    // A check that fails, killed while it runs: the resumed deploy runs it
    // again, it fails again, and the deploy reverts to v2.
    let failing =
        "  [[http_service.machine_checks]]\n    command = [\"sh\", \"-c\", \"sleep 4; exit 3\"]\n";
    let toml = fly_toml(app, "v3", false, "").replace("[[vm]]", &format!("{failing}\n[[vm]]"));
    let mut third = request(&image.reference, &toml);
    third.ha = Some(false);
    let third = client.create_deploy(app, &third).await.unwrap();
    let test_machine = wait_one_off_started(&client, app, "machine_check").await;
    dev.kill();
    let (dev, client) = start_dev(&data, NETWORK).await;
    let done = wait_final(&client, app, &third.id).await;
    let events = all_events(&client, app, &third.id).await;
    let log = messages(&events);
    assert_eq!(done.state, DeployState::Reverted, "{log}");
    assert!(
        done.error
            .as_deref()
            .unwrap_or_default()
            .contains("exit code 3"),
        "{log}"
    );
    assert!(
        log.contains(&format!(
            "[cleanup] destroyed leftover machine check test machine {test_machine}"
        )),
        "{log}"
    );
    assert_only_the_app_machine(&client, app, "v2", &log).await;
    assert_serves(&dev, app).await;
}

/// The app has one Machine, of release `mark`, started, and no one-off one.
async fn assert_only_the_app_machine(client: &Client, app: &str, mark: &str, log: &str) {
    let machines = client
        .list_machines(app, &Default::default())
        .await
        .unwrap();
    assert_eq!(
        machines.len(),
        1,
        "only the app's Machine is left, no one-off one: {machines:#?}"
    );
    let machine = &machines[0];
    assert!(!machine.config.metadata.contains_key(ROLE), "{machine:#?}");
    assert_eq!(
        machine.config.env.get("MARK").map(String::as_str),
        Some(mark),
        "{log}"
    );
    assert_eq!(machine.state, MachineState::Started, "{machine:#?}");
}

/// The app answers through the proxy (its Machine is not left cordoned).
async fn assert_serves(dev: &DevProcess, app: &str) {
    let proxy = dev.proxy_addr();
    let http = reqwest::Client::new();
    let body = hangar_testbed::wait_until_async(
        "the app to answer through the proxy",
        Duration::from_secs(30),
        || async {
            let response = http
                .get(format!("http://{proxy}/"))
                .header("host", format!("{app}.localhost"))
                .timeout(Duration::from_secs(5))
                .send()
                .await
                .map_err(|e| e.to_string())?;
            match response.status().as_u16() {
                200 => response.text().await.map_err(|e| e.to_string()),
                status => Err(format!("HTTP {status}")),
            }
        },
    )
    .await;
    assert_eq!(body, "alive\n");
}
