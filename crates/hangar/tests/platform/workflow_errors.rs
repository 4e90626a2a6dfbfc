//! Bad input to the workflow commands: a clear message, exit code 1, and
//! nothing changed.

use crate::support::*;
use crate::workflow::{app_image, Hangar};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_and_changes_nothing() {
    if hangar_testbed::skip_unless_root("bad_input_is_refused_and_changes_nothing") {
        return;
    }
    let tb = testbed().await;
    let Some(image) = app_image(&tb, "wfe-image") else {
        return;
    };
    let image = image.reference.as_str();
    let hangar = Hangar::new(&tb, "wferr");

    // Missing fly.toml: deploy says how to get one.
    hangar
        .run(&["deploy", "--image", image])
        .await
        .fails_with("no fly.toml");
    // A static site: launch writes a Dockerfile and fly.toml.
    std::fs::write(hangar.dir.join("index.html"), "<h1>hi</h1>\n").unwrap();
    let launched = hangar
        .run(&["launch", "--name", "wferr", "--no-deploy"])
        .await
        .ok();
    assert!(launched.err.contains("static site"), "{}", launched.err);
    let dockerfile = std::fs::read_to_string(hangar.dir.join("Dockerfile")).unwrap();
    assert!(
        dockerfile.contains("httpd") && dockerfile.contains("EXPOSE 8080"),
        "{dockerfile}"
    );
    // Deploying it needs an image or a build: this test machine cannot pull
    // the base image, so the deploy fails before anything is released.
    let unbuilt = hangar.run(&["deploy"]).await;
    assert_eq!(unbuilt.code, 1, "{unbuilt:?}");
    assert!(tb.client.list_releases("wferr").await.unwrap().is_empty());
    // An unknown app.
    for args in [
        &["status", "-a", "no-such-app"][..],
        &["logs", "--no-tail", "-a", "no-such-app"],
        &["secrets", "list", "-a", "no-such-app"],
        &["releases", "-a", "no-such-app"],
        &["deploy", "--image", image, "-a", "no-such-app"],
    ] {
        hangar
            .run(args)
            .await
            .fails_with("app no-such-app not found");
    }
    hangar.run(&["deploy", "--image", image]).await.ok();
    let before = hangar.machines("wferr").await;

    // A bad size lists the valid ones; no Machine changes.
    let bad = hangar
        .run(&["scale", "vm", "shared-cpu-99x"])
        .await
        .fails_with("unknown VM size \"shared-cpu-99x\"");
    assert!(
        bad.err.contains("shared-cpu-1x") && bad.err.contains("shared-cpu-8x"),
        "{}",
        bad.err
    );
    let after = hangar.machines("wferr").await;
    assert_eq!(
        before
            .iter()
            .map(|m| (&m.id, &m.config.guest))
            .collect::<Vec<_>>(),
        after
            .iter()
            .map(|m| (&m.id, &m.config.guest))
            .collect::<Vec<_>>()
    );

    // A malformed dotenv names the line and sets nothing.
    hangar
        .run_with_stdin(&["secrets", "import"], Some("GOOD=1\nnot a pair\nALSO=2\n"))
        .await
        .fails_with("line 2");
    let list = hangar.run(&["secrets", "list", "--json"]).await.ok();
    let secrets: Vec<serde_json::Value> = serde_json::from_str(&list.out).unwrap();
    assert!(secrets.is_empty(), "{secrets:?}");
    // A good one works.
    hangar
        .run_with_stdin(
            &["secrets", "import", "--stage"],
            Some("# env\nGOOD=1\nALSO='2'\n"),
        )
        .await
        .ok();
    let list = hangar.run(&["secrets", "list"]).await.ok();
    assert!(
        list.out.contains("GOOD") && list.out.contains("ALSO"),
        "{}",
        list.out
    );

    // A release that does not exist.
    let releases = hangar.run(&["releases", "--json"]).await.ok().out;
    hangar
        .run(&["releases", "rollback", "99", "-y"])
        .await
        .fails_with("v99 does not exist");
    assert_eq!(hangar.run(&["releases", "--json"]).await.ok().out, releases);
    // A release whose checks never pass: exit code 1, the app goes back to
    // the previous release.
    let good = std::fs::read_to_string(hangar.fly_toml()).unwrap();
    std::fs::write(
        hangar.fly_toml(),
        format!(
            "{good}\n[[http_service.checks]]\n  interval = '1s'\n  timeout = '1s'\n  \
             grace_period = '1s'\n  method = 'GET'\n  path = '/never-there'\n"
        ),
    )
    .unwrap();
    let failed = hangar
        .run(&["deploy", "--image", image, "--wait-timeout", "5s"])
        .await;
    assert_eq!(failed.code, 1, "{failed:?}");
    assert!(failed.err.contains("rolled back"), "{}", failed.err);
    std::fs::write(hangar.fly_toml(), good).unwrap();
    let status = hangar.run(&["status", "--json"]).await.ok();
    let status: serde_json::Value = serde_json::from_str(&status.out).unwrap();
    assert_eq!(status["current_release"]["version"], 1, "{status}");

    // A deploy id that does not exist.
    hangar
        .run(&["deploy", "status", "nope", "--watch"])
        .await
        .fails_with("not found");
    tb.stop().await;
}
