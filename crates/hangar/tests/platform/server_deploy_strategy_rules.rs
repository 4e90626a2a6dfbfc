//! Strategies an app cannot deploy with (reference §5.4, §5.5): canary and
//! bluegreen with volumes, bluegreen without a health check. The API and
//! the CLI refuse them with a message naming the strategy, the group and
//! what to use instead, and the app keeps its releases, Machines and
//! volumes exactly as they were.

use hangar_testbed::Testbed;
use hangar_types::DeployState;

use crate::server_deploys_support::*;
use crate::workflow::Hangar;

const MOUNTS: &str = "[mounts]\n  source = \"data\"\n  destination = \"/data\"\n";

/// Everything a refused deploy must leave as it was.
#[derive(Debug, PartialEq)]
struct Fleet {
    releases: Vec<u64>,
    deploys: Vec<String>,
    /// Every Machine (one-off ones included): id, instance and state.
    machines: Vec<(String, String, String)>,
    /// Every volume: id and the Machine it is attached to.
    volumes: Vec<(String, Option<String>)>,
}

async fn fleet(tb: &Testbed, app: &str) -> Fleet {
    let client = &tb.client;
    let mut machines: Vec<(String, String, String)> = client
        .list_machines(app, &Default::default())
        .await
        .expect("list machines")
        .into_iter()
        .map(|m| (m.id, m.instance_id, m.state.to_string()))
        .collect();
    machines.sort();
    let mut volumes: Vec<(String, Option<String>)> = client
        .list_volumes(app)
        .await
        .expect("list volumes")
        .into_iter()
        .map(|v| (v.id, v.attached_machine_id))
        .collect();
    volumes.sort();
    Fleet {
        releases: client
            .list_releases(app)
            .await
            .expect("list releases")
            .iter()
            .map(|r| r.version)
            .collect(),
        deploys: client
            .list_deploys(app)
            .await
            .expect("list deploys")
            .into_iter()
            .map(|d| d.id)
            .collect(),
        machines,
        volumes,
    }
}

/// `[deploy] strategy = "{strategy}"`.
fn strategy_section(strategy: &str) -> String {
    format!("[deploy]\n  strategy = \"{strategy}\"\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn canary_and_bluegreen_are_refused_for_an_app_with_volumes_and_change_nothing() {
    let app = "volstrategy";
    let Some((tb, image)) = testbed_with_app(
        "canary_and_bluegreen_are_refused_for_an_app_with_volumes_and_change_nothing",
        app,
    )
    .await
    else {
        return;
    };
    deploy_ok(
        &tb,
        app,
        &request(&image.reference, &fly_toml(app, "v1", false, MOUNTS)),
    )
    .await;
    let before = fleet(&tb, app).await;
    assert_eq!(before.machines.len(), 2, "{before:?}");
    assert_eq!(
        before.volumes.len(),
        2,
        "one volume per Machine: {before:?}"
    );

    let hangar = Hangar::new(&tb, app);
    for strategy in ["canary", "bluegreen"] {
        // Through the API, asked for in the request.
        let mut req = request(&image.reference, &fly_toml(app, "v2", false, MOUNTS));
        req.strategy = Some(strategy.into());
        let err = tb.client.create_deploy(app, &req).await.unwrap_err();
        let message = err.to_string();
        assert_eq!(err.status(), Some(400), "{message}");
        for part in [
            format!("the {strategy} strategy cannot deploy an app with volumes"),
            "process group 'app' mounts volume \"data\" at /data".to_string(),
            "deploy with strategy rolling or immediate".to_string(),
        ] {
            assert!(message.contains(&part), "{part:?} not in: {message}");
        }
        assert_eq!(fleet(&tb, app).await, before, "{strategy} (request)");

        // Through the API, asked for by fly.toml.
        let toml = fly_toml(
            app,
            "v2",
            false,
            &format!("{}{MOUNTS}", strategy_section(strategy)),
        );
        let err = tb
            .client
            .create_deploy(app, &request(&image.reference, &toml))
            .await
            .unwrap_err();
        let message = err.to_string();
        assert_eq!(err.status(), Some(400), "{message}");
        for part in [
            format!("{strategy} deployment strategy is not supported when using mounted volumes"),
            "group 'app'".to_string(),
            "\"rolling\" or \"immediate\"".to_string(),
        ] {
            assert!(message.contains(&part), "{part:?} not in: {message}");
        }
        assert_eq!(fleet(&tb, app).await, before, "{strategy} (fly.toml)");

        // Through the CLI.
        std::fs::write(hangar.fly_toml(), fly_toml(app, "v2", false, MOUNTS)).unwrap();
        let run = hangar
            .run(&[
                "deploy",
                "--image",
                &image.reference,
                "--strategy",
                strategy,
            ])
            .await
            .fails_with(&format!(
                "the {strategy} strategy cannot deploy an app with volumes"
            ));
        assert!(
            run.err
                .contains("process group 'app' mounts volume \"data\""),
            "{}",
            run.err
        );
        assert!(run.err.contains("--strategy rolling"), "{}", run.err);
        assert_eq!(fleet(&tb, app).await, before, "{strategy} (CLI)");
    }

    // `--strategy rolling` replaces fly.toml's canary: deployed, and each
    // Machine keeps its volume.
    std::fs::write(
        hangar.fly_toml(),
        fly_toml(
            app,
            "v2",
            false,
            &format!("{}{MOUNTS}", strategy_section("canary")),
        ),
    )
    .unwrap();
    hangar
        .run(&[
            "deploy",
            "--image",
            &image.reference,
            "--strategy",
            "rolling",
        ])
        .await
        .ok();
    let after = fleet(&tb, app).await;
    assert_eq!(after.volumes, before.volumes, "the volumes stay attached");
    assert_eq!(after.releases.len(), before.releases.len() + 1);
    let deploys = tb.client.list_deploys(app).await.unwrap();
    assert_eq!(deploys[0].state, DeployState::Succeeded, "{deploys:?}");
    assert_eq!(deploys[0].strategy, "rolling");
    for m in managed(&tb, app).await {
        assert_eq!(m.config.env.get("MARK").map(String::as_str), Some("v2"));
    }
    tb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bluegreen_without_a_health_check_is_refused_and_changes_nothing() {
    let app = "nochecks";
    let Some((tb, image)) = testbed_with_app(
        "bluegreen_without_a_health_check_is_refused_and_changes_nothing",
        app,
    )
    .await
    else {
        return;
    };
    let worker_only = |extra: &str| {
        format!(
            "app = \"{app}\"\nprimary_region = \"dev\"\n\n[processes]\n  worker = \"sleep 100000\"\n\n[[vm]]\n  memory = \"256mb\"\n\n{extra}"
        )
    };
    deploy_ok(&tb, app, &request(&image.reference, &worker_only(""))).await;
    let before = fleet(&tb, app).await;
    assert!(!before.machines.is_empty(), "{before:?}");

    let mut req = request(&image.reference, &worker_only(""));
    req.strategy = Some("bluegreen".into());
    let err = tb.client.create_deploy(app, &req).await.unwrap_err();
    let message = err.to_string();
    assert_eq!(err.status(), Some(400), "{message}");
    for part in [
        "the bluegreen strategy needs at least 1 health check",
        "no process group has one",
        "[checks]",
        "--strategy rolling",
    ] {
        assert!(message.contains(part), "{part:?} not in: {message}");
    }
    assert_eq!(fleet(&tb, app).await, before, "bluegreen (request)");

    let toml = worker_only(&strategy_section("bluegreen"));
    let err = tb
        .client
        .create_deploy(app, &request(&image.reference, &toml))
        .await
        .unwrap_err();
    let message = err.to_string();
    assert_eq!(err.status(), Some(400), "{message}");
    assert!(
        message.contains("the bluegreen strategy needs at least 1 health check"),
        "{message}"
    );
    assert!(message.contains("under [deploy] in fly.toml"), "{message}");
    assert_eq!(fleet(&tb, app).await, before, "bluegreen (fly.toml)");
    tb.stop().await;
}
