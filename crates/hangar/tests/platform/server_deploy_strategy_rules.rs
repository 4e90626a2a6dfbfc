//! Strategies an app cannot deploy with (reference §5.4, §5.5): canary and
//! bluegreen with volumes, bluegreen without a health check. The API and
//! the CLI refuse them with a message naming the strategy, the group and
//! what to use instead, and the app keeps its releases, Machines and
//! volumes exactly as they were. `hangar deploy` refuses them before it
//! builds anything, with the control plane's words; a secrets change whose
//! restart deploy is refused stores nothing.

use std::collections::BTreeMap;

use hangar_testbed::Testbed;
use hangar_types::DeployState;

use crate::server_deploys_support::*;
use crate::workflow::{Hangar, Run};

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

/// The built-in registry's repositories (it answers at the API's address).
async fn registry_repositories(tb: &Testbed) -> Vec<String> {
    let url = format!("{}/v2/_catalog", tb.platform.url.trim_end_matches('/'));
    let response = reqwest::Client::new()
        .get(&url)
        .bearer_auth(&tb.platform.token)
        .send()
        .await
        .expect("GET /v2/_catalog");
    assert!(
        response.status().is_success(),
        "{url}: {}",
        response.status()
    );
    let body: serde_json::Value =
        serde_json::from_str(&response.text().await.expect("catalog body")).expect("catalog JSON");
    let mut repositories: Vec<String> = body["repositories"]
        .as_array()
        .expect("repositories")
        .iter()
        .map(|r| r.as_str().expect("a name").to_string())
        .collect();
    repositories.sort();
    repositories
}

/// The API's message in a client error (`{message} (HTTP 400)`).
fn api_message(err: &hangar_client::ClientError) -> String {
    let text = err.to_string();
    text.strip_suffix(" (HTTP 400)")
        .unwrap_or_else(|| panic!("not a 400: {text}"))
        .to_string()
}

/// `hangar deploy --builder native ARGS` without an image, beside a
/// Dockerfile the native builder can build: it must fail with `message`
/// (the control plane's own words) before building or pushing anything.
async fn refused_before_building(hangar: &Hangar<'_>, args: &[&str], message: &str) -> Run {
    std::fs::write(
        hangar.dir.join("Dockerfile"),
        "FROM scratch\nCOPY index.html /www/index.html\n",
    )
    .unwrap();
    std::fs::write(hangar.dir.join("index.html"), "never built\n").unwrap();
    let repositories = registry_repositories(hangar.tb).await;
    let mut full = vec!["deploy", "--builder", "native"];
    full.extend_from_slice(args);
    let run = hangar.run(&full).await.fails_with(message);
    for built in ["==> building", "builder", "pushing", "Pushed"] {
        assert!(
            !run.err.contains(built),
            "{built:?}: built before the refusal: {}",
            run.err
        );
    }
    assert_eq!(
        registry_repositories(hangar.tb).await,
        repositories,
        "an image was pushed before the refusal"
    );
    run
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
        let request_refusal = api_message(&err);
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

        // Through the CLI with a Dockerfile to build: refused first, in the
        // control plane's words, nothing built or pushed.
        refused_before_building(&hangar, &["--strategy", strategy], &request_refusal).await;
        assert_eq!(fleet(&tb, app).await, before, "{strategy} (CLI, build)");
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
    let request_refusal = api_message(&err);
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
    let fly_toml_refusal = api_message(&err);

    // `hangar deploy` with a Dockerfile to build: refused before the build,
    // `--strategy bluegreen` and fly.toml's alike.
    let hangar = Hangar::new(&tb, app);
    std::fs::write(hangar.fly_toml(), worker_only("")).unwrap();
    refused_before_building(&hangar, &["--strategy", "bluegreen"], &request_refusal).await;
    assert_eq!(fleet(&tb, app).await, before, "bluegreen (CLI --strategy)");
    std::fs::write(hangar.fly_toml(), toml).unwrap();
    refused_before_building(&hangar, &[], &fly_toml_refusal).await;
    assert_eq!(fleet(&tb, app).await, before, "bluegreen (CLI fly.toml)");
    tb.stop().await;
}

/// Secrets, names to digests, as `hangar secrets list --json` shows them.
async fn secret_digests(hangar: &Hangar<'_>) -> BTreeMap<String, String> {
    let run = hangar.run(&["secrets", "list", "--json"]).await.ok();
    let listed: serde_json::Value = serde_json::from_str(&run.out).expect("secrets JSON");
    listed
        .as_array()
        .expect("a list")
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap().to_string(),
                s["digest"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secrets_change_whose_restart_is_refused_stores_nothing() {
    let app = "refusedrestart";
    let Some((tb, image)) = testbed_with_app(
        "a_secrets_change_whose_restart_is_refused_stores_nothing",
        app,
    )
    .await
    else {
        return;
    };
    // Release v1's fly.toml asks for bluegreen, and has no health check:
    // deployed with the request's rolling, but a restart deploy (no
    // strategy of its own) takes fly.toml's, which the control plane refuses.
    let toml = format!(
        "app = \"{app}\"\nprimary_region = \"dev\"\n\n[processes]\n  worker = \"sleep 100000\"\n\n\
         [[vm]]\n  memory = \"256mb\"\n\n{}",
        strategy_section("bluegreen")
    );
    let mut req = request(&image.reference, &toml);
    req.strategy = Some("rolling".into());
    deploy_ok(&tb, app, &req).await;
    let hangar = Hangar::new(&tb, app);
    std::fs::write(hangar.fly_toml(), &toml).unwrap();
    let staged = hangar
        .run(&["secrets", "set", "KEPT=old", "GONE=x", "--stage", "--json"])
        .await
        .ok();
    let staged: serde_json::Value = serde_json::from_str(&staged.out).expect("changed JSON");
    let version = staged["secrets_version"].as_u64().expect("secrets_version");
    let secrets = secret_digests(&hangar).await;
    assert_eq!(secrets.len(), 2, "{secrets:?}");
    let before = fleet(&tb, app).await;

    // Set: refused with the restart's reason, nothing stored.
    let run = hangar
        .run(&["secrets", "set", "KEPT=new", "ADDED=y"])
        .await
        .fails_with("the bluegreen strategy needs at least 1 health check");
    assert!(run.err.contains("secrets not changed"), "{}", run.err);
    assert!(run.err.contains("--stage"), "{}", run.err);
    assert_eq!(
        secret_digests(&hangar).await,
        secrets,
        "set stored a secret"
    );
    // Unset: the same.
    hangar
        .run(&["secrets", "unset", "GONE"])
        .await
        .fails_with("the bluegreen strategy needs at least 1 health check");
    assert_eq!(
        secret_digests(&hangar).await,
        secrets,
        "unset removed a secret"
    );
    // Import: the same.
    hangar
        .run_with_stdin(&["secrets", "import"], Some("ADDED=z\n"))
        .await
        .fails_with("secrets not changed");
    assert_eq!(
        secret_digests(&hangar).await,
        secrets,
        "import stored a secret"
    );
    // The API: a 400, and the version did not move.
    let err = tb
        .client
        .set_secrets(app, BTreeMap::from([("KEPT".into(), "api".into())]), false)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(400), "{err}");
    let staged = tb
        .client
        .set_secrets(app, BTreeMap::from([("KEPT".into(), "old".into())]), true)
        .await
        .expect("staged");
    assert_eq!(
        staged.secrets_version,
        version + 1,
        "a refused change bumped the version"
    );
    assert!(staged.deploy.is_none());
    assert_eq!(fleet(&tb, app).await, before, "a refused change deployed");

    // --stage stores without deploying, refused restart or not.
    hangar
        .run(&["secrets", "set", "KEPT=new", "--stage"])
        .await
        .ok();
    let after = secret_digests(&hangar).await;
    assert_ne!(after["KEPT"], secrets["KEPT"], "{after:?}");
    assert_eq!(after["GONE"], secrets["GONE"]);
    hangar
        .run(&["secrets", "unset", "GONE", "--stage"])
        .await
        .ok();
    assert!(!secret_digests(&hangar).await.contains_key("GONE"));
    assert_eq!(fleet(&tb, app).await, before, "--stage deployed");
    tb.stop().await;
}
