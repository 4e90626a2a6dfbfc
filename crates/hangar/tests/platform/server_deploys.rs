//! Server-side deploys through the API: process groups, each strategy, no-op
//! redeploys, automatic revert when checks fail, a failing release command,
//! and a deploy that survives a control-plane restart.

use std::time::Duration;

use hangar_types::{DeployState, GoDuration, ReleaseStatus};

use crate::server_deploys_support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploys_create_groups_then_roll_changes_with_every_strategy() {
    let app = "strategies";
    let Some((tb, image)) = testbed_with_app(
        "deploys_create_groups_then_roll_changes_with_every_strategy",
        app,
    )
    .await
    else {
        return;
    };

    let (first, _) = deploy_ok(
        &tb,
        app,
        &request(&image.reference, &fly_toml(app, "v1", true, "")),
    )
    .await;
    assert_eq!(first.release_version, 1);
    let machines = managed(&tb, app).await;
    assert_eq!(
        in_group(&machines, "web").len(),
        2,
        "web has services: two Machines"
    );
    let (worker, standby) = worker_and_standby(&machines);
    assert_eq!(standby.config.standbys, std::slice::from_ref(&worker.id));
    assert_eq!(
        standby.config.env.get("FLY_STANDBY_FOR"),
        Some(&worker.id),
        "{standby:#?}"
    );
    for m in machines.iter().filter(|m| m.id != standby.id) {
        assert_eq!(m.state.to_string(), "started", "{}", m.id);
        assert_eq!(m.config.env.get("MARK").map(String::as_str), Some("v1"));
    }

    for (i, strategy) in ["rolling", "immediate", "canary", "bluegreen"]
        .into_iter()
        .enumerate()
    {
        let before = managed(&tb, app).await;
        let mut req = request(&image.reference, &fly_toml(app, strategy, true, ""));
        req.strategy = Some(strategy.into());
        let (deployment, events) = deploy(&tb, app, &req).await;
        let log = messages(&events);
        assert_eq!(
            deployment.state,
            DeployState::Succeeded,
            "{strategy}: {log}"
        );
        assert_eq!(deployment.strategy, strategy);
        let version = (i + 2) as u64;
        assert_eq!(deployment.release_version, version);
        if strategy == "immediate" {
            // Immediate does not wait for the Machines; the test does.
            hangar_testbed::wait_until_async(
                "every machine to be started",
                Duration::from_secs(30),
                || async {
                    let machines = managed(&tb, app).await;
                    let mut active = machines.iter().filter(|m| m.config.standbys.is_empty());
                    match active.find(|m| m.state.to_string() != "started") {
                        Some(m) => Err(format!("{} is {}", m.id, m.state)),
                        None => Ok(()),
                    }
                },
            )
            .await;
        }
        let after = managed(&tb, app).await;
        assert_eq!(in_group(&after, "web").len(), 2, "{strategy}: {log}");
        let (worker, standby) = worker_and_standby(&after);
        assert_eq!(
            standby.config.standbys,
            std::slice::from_ref(&worker.id),
            "{strategy}"
        );
        assert_eq!(
            standby.config.env.get("MARK").map(String::as_str),
            Some(strategy),
            "the standby follows the release: {log}"
        );
        for m in after.iter().filter(|m| m.id != standby.id) {
            assert_eq!(
                m.config.env.get("MARK").map(String::as_str),
                Some(strategy),
                "{strategy}: {}",
                m.id
            );
            assert_eq!(
                m.config
                    .metadata
                    .get("fly_release_version")
                    .map(String::as_str),
                Some(version.to_string().as_str())
            );
            assert_eq!(m.state.to_string(), "started", "{strategy}: {}", m.id);
            assert!(!m.cordoned, "{strategy}: {} still cordoned", m.id);
        }
        let ids =
            |ms: &[hangar_types::Machine]| ms.iter().map(|m| m.id.clone()).collect::<Vec<_>>();
        match strategy {
            "bluegreen" => {
                let old_web: Vec<String> = in_group(&before, "web")
                    .iter()
                    .map(|m| m.id.clone())
                    .collect();
                assert!(
                    in_group(&after, "web")
                        .iter()
                        .all(|m| !old_web.contains(&m.id)),
                    "bluegreen replaces the web Machines: {log}"
                );
            }
            _ => assert_eq!(
                ids(&before),
                ids(&after),
                "{strategy} updates in place: {log}"
            ),
        }
        if strategy == "canary" {
            assert!(log.contains("canary machine"), "{log}");
        }
    }

    // The same image and config again: nothing changes.
    let before = managed(&tb, app).await;
    let (same, events) = deploy(
        &tb,
        app,
        &request(&image.reference, &fly_toml(app, "bluegreen", true, "")),
    )
    .await;
    assert_eq!(same.state, DeployState::Succeeded);
    assert!(
        messages(&events).contains("no changes"),
        "{}",
        messages(&events)
    );
    let after = managed(&tb, app).await;
    assert_eq!(machine_versions(&before), machine_versions(&after));
    let releases = tb.client.list_releases(app).await.unwrap();
    assert_eq!(releases[0].version, 6);
    assert_eq!(releases[0].status, ReleaseStatus::Complete);

    // A group that gains services loses its standby.
    let worker_service = "\n[[services]]\n  internal_port = 9000\n  protocol = \"tcp\"\n  processes = [\"worker\"]\n  [[services.ports]]\n    port = 29077\n";
    let served = fly_toml(app, "bluegreen", true, worker_service);
    deploy_ok(&tb, app, &request(&image.reference, &served)).await;
    let after = managed(&tb, app).await;
    let workers = in_group(&after, "worker");
    assert_eq!(workers.len(), 1, "{after:#?}");
    assert!(workers[0].config.standbys.is_empty(), "{after:#?}");

    // A group removed from fly.toml loses its Machines.
    let no_worker = fly_toml(app, "bluegreen", false, "");
    deploy_ok(&tb, app, &request(&image.reference, &no_worker)).await;
    let after = managed(&tb, app).await;
    assert!(in_group(&after, "worker").is_empty(), "{after:#?}");
    tb.stop().await;
}

/// The `worker` group's Machine and its standby, which is kept stopped.
fn worker_and_standby(
    machines: &[hangar_types::Machine],
) -> (&hangar_types::Machine, &hangar_types::Machine) {
    let workers = in_group(machines, "worker");
    assert_eq!(
        workers.len(),
        2,
        "worker has no services: a Machine and a standby: {workers:#?}"
    );
    let (standbys, active): (Vec<_>, Vec<_>) = workers
        .into_iter()
        .partition(|m| !m.config.standbys.is_empty());
    assert_eq!((standbys.len(), active.len()), (1, 1), "{machines:#?}");
    let state = standbys[0].state.to_string();
    assert!(
        state == "created" || state == "stopped",
        "the standby stays stopped: {state}"
    );
    (active[0], standbys[0])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deploy_whose_checks_never_pass_reverts_and_the_app_keeps_serving() {
    let app = "reverts";
    let Some((tb, image)) = testbed_with_app(
        "a_deploy_whose_checks_never_pass_reverts_and_the_app_keeps_serving",
        app,
    )
    .await
    else {
        return;
    };
    deploy_ok(
        &tb,
        app,
        &request(&image.reference, &fly_toml(app, "v1", false, "")),
    )
    .await;
    let before = managed(&tb, app).await;
    assert_eq!(before.len(), 2);

    let broken = fly_toml(app, "v2", false, "").replace("path = \"/\"", "path = \"/missing\"");
    let mut req = request(&image.reference, &broken);
    req.wait_timeout = Some(GoDuration(Duration::from_secs(4)));
    let (failed, events) = deploy(&tb, app, &req).await;
    let log = messages(&events);
    assert_eq!(failed.state, DeployState::Reverted, "{log}");
    let error = failed.error.clone().unwrap_or_default();
    assert!(error.contains("checks did not pass"), "{error}");
    assert!(log.contains("[revert]"), "{log}");

    let after = managed(&tb, app).await;
    assert_eq!(
        before.iter().map(|m| &m.id).collect::<Vec<_>>(),
        after.iter().map(|m| &m.id).collect::<Vec<_>>()
    );
    for m in &after {
        assert_eq!(
            m.config.env.get("MARK").map(String::as_str),
            Some("v1"),
            "{}",
            m.id
        );
        assert_eq!(
            m.config
                .metadata
                .get("fly_release_version")
                .map(String::as_str),
            Some("1")
        );
    }
    let releases = tb.client.list_releases(app).await.unwrap();
    assert_eq!(releases[0].version, 2);
    assert_eq!(releases[0].status, ReleaseStatus::Failed);
    let body = hangar_testbed::wait_until_async(
        "the app to serve through the proxy",
        Duration::from_secs(30),
        || async {
            match get_via_proxy(&tb, app).await? {
                (200, body) => Ok(body),
                (status, body) => Err(format!("{status}: {body}")),
            }
        },
    )
    .await;
    assert!(body.contains("hello from a hangar machine"), "{body}");

    // With no_rollback the fleet stays as the failure left it.
    let mut req = request(&image.reference, &broken);
    req.wait_timeout = Some(GoDuration(Duration::from_secs(3)));
    req.no_rollback = true;
    let (failed, events) = deploy(&tb, app, &req).await;
    assert_eq!(failed.state, DeployState::Failed, "{}", messages(&events));
    assert!(!messages(&events).contains("[revert]"));
    tb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_release_command_aborts_with_its_output_and_changes_nothing() {
    let app = "migrations";
    let Some((tb, image)) = testbed_with_app(
        "a_failing_release_command_aborts_with_its_output_and_changes_nothing",
        app,
    )
    .await
    else {
        return;
    };
    let ok = "\n[deploy]\n  release_command = \"sh -c 'echo migrated ok'\"\n";
    let (_, events) = deploy_ok(
        &tb,
        app,
        &request(&image.reference, &fly_toml(app, "v1", false, ok)),
    )
    .await;
    assert!(
        messages(&events).contains("migrated ok"),
        "{}",
        messages(&events)
    );
    let before = managed(&tb, app).await;

    let failing =
        "\n[deploy]\n  release_command = \"sh -c 'echo migrating the database; exit 3'\"\n";
    let (failed, events) = deploy(
        &tb,
        app,
        &request(&image.reference, &fly_toml(app, "v2", false, failing)),
    )
    .await;
    let log = messages(&events);
    assert_eq!(failed.state, DeployState::Failed, "{log}");
    assert!(
        failed.error.unwrap_or_default().contains("exit code 3"),
        "{log}"
    );
    assert!(log.contains("migrating the database"), "{log}");
    let after = managed(&tb, app).await;
    assert_eq!(
        machine_versions(&before),
        machine_versions(&after),
        "no app Machine changed"
    );
    let all = tb
        .client
        .list_machines(app, &Default::default())
        .await
        .unwrap();
    assert_eq!(
        all.len(),
        before.len(),
        "the release command Machine is gone: {all:#?}"
    );
    assert_eq!(
        tb.client.list_releases(app).await.unwrap()[0].status,
        ReleaseStatus::Failed
    );
    tb.stop().await;
}
