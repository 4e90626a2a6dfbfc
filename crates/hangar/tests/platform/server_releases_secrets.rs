//! Releases, rollback and secrets through the API, and the bad input each
//! refuses without changing anything.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;

use futures_util::StreamExt;
use hangar_client::ClientError;
use hangar_types::{DeployState, ExecRequest, ReleaseStatus};

use crate::server_deploys_support::*;
use crate::support::*;

const SECRET: &str = "hunter2-very-secret-value";

fn status_of(err: &ClientError) -> u16 {
    match err {
        ClientError::Api { status, .. } => *status,
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_restart_the_machines_and_never_come_back_out() {
    if hangar_testbed::skip_unless_root("secrets_restart_the_machines_and_never_come_back_out") {
        return;
    }
    let tb = testbed().await;
    let Some(image) = http_image(&tb, "secrets") else {
        return;
    };
    let app = "vaulted";
    create_app(&tb, app).await;
    // Before any release a secret is only stored.
    let staged = tb
        .client
        .set_secrets(app, BTreeMap::from([("EARLY".into(), "x".into())]), false)
        .await
        .unwrap();
    assert!(staged.deploy.is_none());
    let (first, _) = deploy(
        &tb,
        app,
        &request(&image.reference, &fly_toml(app, "v1", false, "")),
    )
    .await;
    assert_eq!(first.state, DeployState::Succeeded);

    let changed = tb
        .client
        .set_secrets(
            app,
            BTreeMap::from([("API_TOKEN".into(), SECRET.into())]),
            false,
        )
        .await
        .unwrap();
    assert_eq!(changed.secrets_version, 2);
    let restart = changed.deploy.expect("a restart-only deploy");
    let (restarted, events) = follow(&tb, app, &restart.id).await;
    let log = messages(&events);
    assert_eq!(restarted.state, DeployState::Succeeded, "{log}");
    assert!(!log.contains(SECRET));

    let machines = managed(&tb, app).await;
    assert_eq!(machines.len(), 2);
    for m in &machines {
        let out = tb
            .client
            .exec_machine(
                app,
                &m.id,
                &ExecRequest {
                    command: vec!["env".into()],
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert!(
            out.stdout.contains(&format!("API_TOKEN={SECRET}")),
            "{}",
            out.stdout
        );
        assert!(out.stdout.contains("EARLY=x"), "{}", out.stdout);
        let shown =
            serde_json::to_string(&tb.client.get_machine(app, &m.id).await.unwrap()).unwrap();
        assert!(!shown.contains(SECRET), "GET machine shows the secret");
        let mut logs = tb
            .client
            .machine_logs(app, &m.id, &Default::default())
            .await
            .unwrap();
        while let Some(line) = logs.next().await {
            assert!(!line.unwrap().message.contains(SECRET));
        }
    }
    let listed = tb.client.list_secrets(app).await.unwrap();
    assert_eq!(
        listed.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
        ["API_TOKEN", "EARLY"]
    );
    assert_eq!(listed[0].digest.len(), 16);
    assert!(!serde_json::to_string(&listed).unwrap().contains(SECRET));
    // At rest: encrypted, under a private key file.
    for file in ["control-plane.db", "control-plane.db-wal"] {
        if let Ok(bytes) = std::fs::read(tb.data_dir().join(file)) {
            assert!(
                !bytes.windows(SECRET.len()).any(|w| w == SECRET.as_bytes()),
                "{file} holds the value in clear"
            );
        }
    }
    let mode = std::fs::metadata(tb.data_dir().join("secrets.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    // Bad names are refused; staging stores without a deploy.
    let err = tb
        .client
        .set_secrets(app, BTreeMap::from([("1-BAD".into(), "v".into())]), false)
        .await
        .unwrap_err();
    assert_eq!(status_of(&err), 400, "{err}");
    assert!(err.to_string().contains("1-BAD"), "{err}");
    let staged = tb
        .client
        .set_secrets(app, BTreeMap::from([("LATER".into(), "y".into())]), true)
        .await
        .unwrap();
    assert!(staged.deploy.is_none());

    // Unset restarts the Machines without it.
    let unset = tb
        .client
        .unset_secrets(app, vec!["API_TOKEN".into()], false)
        .await
        .unwrap();
    let (done, _) = follow(&tb, app, &unset.deploy.expect("deploy").id).await;
    assert_eq!(done.state, DeployState::Succeeded);
    let m = &managed(&tb, app).await[0];
    let out = tb
        .client
        .exec_machine(
            app,
            &m.id,
            &ExecRequest {
                command: vec!["env".into()],
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(!out.stdout.contains("API_TOKEN"), "{}", out.stdout);
    assert!(out.stdout.contains("LATER=y"), "{}", out.stdout);

    // The secrets survive a restart of the platform (the key is reused).
    let tb = tb.restart().await.expect("restart");
    let listed = tb.client.list_secrets(app).await.unwrap();
    assert_eq!(listed.len(), 2, "{listed:?}");
    tb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn releases_list_roll_back_and_refuse_bad_input() {
    if hangar_testbed::skip_unless_root("releases_list_roll_back_and_refuse_bad_input") {
        return;
    }
    let tb = testbed().await;
    let Some(image) = http_image(&tb, "releases") else {
        return;
    };
    let app = "history";
    create_app(&tb, app).await;

    // A bad fly.toml: 400 naming the line, nothing recorded.
    let bad = fly_toml(app, "v1", false, "")
        .replace("internal_port = 8080", "internal_port = \"eighty\"");
    let err = tb
        .client
        .create_deploy(app, &request(&image.reference, &bad))
        .await
        .unwrap_err();
    assert_eq!(status_of(&err), 400, "{err}");
    assert!(err.to_string().contains("fly.toml:"), "{err}");
    assert!(err.to_string().contains("internal_port"), "{err}");
    assert!(tb.client.list_releases(app).await.unwrap().is_empty());
    assert!(tb.client.list_deploys(app).await.unwrap().is_empty());
    let mut strategy = request(&image.reference, &fly_toml(app, "v1", false, ""));
    strategy.strategy = Some("sideways".into());
    let err = tb.client.create_deploy(app, &strategy).await.unwrap_err();
    assert!(err.to_string().contains("sideways"), "{err}");
    // An unknown app: 404.
    let err = tb
        .client
        .create_deploy(
            "no-such-app",
            &request(&image.reference, &fly_toml("no-such-app", "v1", false, "")),
        )
        .await
        .unwrap_err();
    assert_eq!(status_of(&err), 404, "{err}");

    let (one, _) = deploy(
        &tb,
        app,
        &request(&image.reference, &fly_toml(app, "one", false, "")),
    )
    .await;
    let (two, events) = deploy(
        &tb,
        app,
        &request(&image.reference, &fly_toml(app, "two", false, "")),
    )
    .await;
    assert_eq!(
        (one.state, two.state),
        (DeployState::Succeeded, DeployState::Succeeded)
    );
    // Re-attaching after an event replays only what follows it.
    let mut later = tb
        .client
        .deploy_events(app, &two.id, 2, false)
        .await
        .unwrap();
    let mut replayed = Vec::new();
    while let Some(e) = later.next().await {
        replayed.push(e.unwrap().seq);
    }
    assert_eq!(replayed.first(), Some(&3));
    assert_eq!(replayed.len(), events.len() - 2);

    let releases = tb.client.list_releases(app).await.unwrap();
    assert_eq!(
        releases.iter().map(|r| r.version).collect::<Vec<_>>(),
        [2, 1]
    );
    assert!(releases.iter().all(|r| r.status == ReleaseStatus::Complete));
    assert_eq!(releases[1].image, image.reference);
    assert_eq!(releases[1].author.as_deref(), Some("tester"));
    assert_eq!(releases[1].config["env"]["MARK"], "one");
    let deploys = tb.client.list_deploys(app).await.unwrap();
    assert_eq!(
        deploys.iter().map(|d| d.id.clone()).collect::<Vec<_>>(),
        [two.id.clone(), one.id.clone()]
    );

    let back = tb.client.rollback_release(app, 1).await.unwrap();
    assert_eq!(back.release_version, 3);
    let (back, events) = follow(&tb, app, &back.id).await;
    assert_eq!(back.state, DeployState::Succeeded, "{}", messages(&events));
    for m in managed(&tb, app).await {
        assert_eq!(m.config.env.get("MARK").map(String::as_str), Some("one"));
    }
    let newest = &tb.client.list_releases(app).await.unwrap()[0];
    assert_eq!(newest.description, "Rollback to v1");
    let err = tb.client.rollback_release(app, 42).await.unwrap_err();
    assert_eq!(status_of(&err), 404, "{err}");
    assert!(err.to_string().contains("v42"), "{err}");
    tb.stop().await;
}
