//! `hangar deploy` without an image, through the built `hangar` binary: the
//! Dockerfile next to fly.toml is built (native or docker builder), pushed
//! to the platform's built-in registry and deployed by digest; build
//! failures say what is wrong and create no release.

use std::path::Path;

use hangar_testbed::Testbed;

use crate::support::*;
use crate::workflow::{Hangar, Run};

/// fly.toml of a one-Machine HTTP app on port 8080 (no autostop).
fn fly_toml(app: &str) -> String {
    format!(
        "app = \"{app}\"\nprimary_region = \"dev\"\n\n\
         [http_service]\n  internal_port = 8080\n  auto_stop_machines = \"off\"\n  \
         auto_start_machines = false\n  min_machines_running = 1\n\n\
         [[vm]]\n  size = \"shared-cpu-1x\"\n  memory = \"128mb\"\n"
    )
}

/// A project directory: fly.toml, the Dockerfile, busybox and a page.
fn project<'a>(tb: &'a Testbed, app: &str, dockerfile: &str) -> Option<Hangar<'a>> {
    let Some(busybox) = hangar_testbed::busybox_path() else {
        eprintln!("SKIPPED deploy_build: no busybox; apt-get install busybox-static");
        return None;
    };
    let hangar = Hangar::new(tb, app);
    std::fs::write(hangar.fly_toml(), fly_toml(app)).unwrap();
    std::fs::write(hangar.dir.join("Dockerfile"), dockerfile).unwrap();
    std::fs::copy(busybox, hangar.dir.join("busybox")).unwrap();
    std::fs::write(hangar.dir.join("index.html"), format!("built {app}\n")).unwrap();
    Some(hangar)
}

const HTTPD: &str =
    "CMD [\"/bin/busybox\", \"httpd\", \"-f\", \"-v\", \"-p\", \"8080\", \"-h\", \"/www\"]\n";

fn native_dockerfile() -> String {
    format!("FROM scratch\nCOPY busybox /bin/busybox\nCOPY index.html /www/index.html\n{HTTPD}")
}

/// The app's single release, checked to name the registry image by digest.
async fn only_release_image(tb: &Testbed, app: &str) -> String {
    let releases = tb.client.list_releases(app).await.expect("releases");
    assert_eq!(releases.len(), 1, "{releases:?}");
    let host = tb
        .platform
        .url
        .trim_start_matches("http://")
        .trim_end_matches('/');
    let image = releases[0].image.clone();
    assert!(
        image.starts_with(&format!("{host}/{app}@sha256:")),
        "release image {image} is not {host}/{app}@sha256:…"
    );
    image
}

/// Deploys, then checks the Machine serves the page built into the image.
async fn deploy_and_check(hangar: &Hangar<'_>, app: &str, args: &[&str], page: &str) -> Run {
    let mut full = vec!["deploy"];
    full.extend_from_slice(args);
    let run = hangar.run(&full).await.ok();
    assert!(run.err.contains("Pushed"), "{}", run.err);
    only_release_image(hangar.tb, app).await;
    let machines = hangar.machines(app).await;
    assert!(!machines.is_empty(), "the deploy left no Machine");
    for machine in &machines {
        assert_eq!(wait_http(&url_of(machine)).await, page);
    }
    run
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_builds_the_dockerfile_natively_and_serves_it() {
    if hangar_testbed::skip_unless_root("deploy_builds_the_dockerfile_natively_and_serves_it") {
        return;
    }
    let tb = testbed().await;
    let Some(hangar) = project(&tb, "bldnative", &native_dockerfile()) else {
        return;
    };
    create_app(&tb, "bldnative").await;
    let run = deploy_and_check(
        &hangar,
        "bldnative",
        &["--builder", "native", "--image-label", "team=web"],
        "built bldnative\n",
    )
    .await;
    assert!(
        run.err.contains("native builder"),
        "build output not streamed: {}",
        run.err
    );
    let releases = hangar.run(&["releases"]).await.ok();
    assert!(releases.out.contains("v1"), "{}", releases.out);
    tb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_builds_run_steps_with_docker() {
    if hangar_testbed::skip_unless_root("deploy_builds_run_steps_with_docker") {
        return;
    }
    let tb = testbed().await;
    let dockerfile = format!(
        "FROM scratch\nCOPY busybox /bin/busybox\nARG WHO=nobody\n\
         RUN [\"/bin/busybox\", \"sh\", \"-c\", \"/bin/busybox mkdir -p /www && echo built by $WHO > /www/index.html\"]\n{HTTPD}"
    );
    let Some(hangar) = project(&tb, "blddocker", &dockerfile) else {
        return;
    };
    create_app(&tb, "blddocker").await;
    let run = hangar
        .run(&["deploy", "--builder", "docker", "--build-arg", "WHO=docker"])
        .await;
    if run.code != 0 && run.err.contains("docker builder is not available") {
        eprintln!(
            "SKIPPED deploy_builds_run_steps_with_docker: no Docker daemon: {}",
            run.err
        );
        tb.stop().await;
        return;
    }
    let run = run.ok();
    assert!(run.err.contains("Pushed"), "{}", run.err);
    only_release_image(&tb, "blddocker").await;
    let machines = hangar.machines("blddocker").await;
    assert_eq!(wait_http(&url_of(&machines[0])).await, "built by docker\n");
    tb.stop().await;
}

/// Runs a deploy that must fail with `needle` and leave no release.
async fn fails_without_release(hangar: &Hangar<'_>, app: &str, args: &[&str], needle: &str) {
    let mut full = vec!["deploy"];
    full.extend_from_slice(args);
    let run = hangar.run(&full).await;
    assert_ne!(run.code, 0, "{run:?}");
    assert!(run.err.contains(needle), "{needle:?} not in: {}", run.err);
    assert!(run.err.contains("nothing deployed"), "{}", run.err);
    let releases = hangar.tb.client.list_releases(app).await.expect("releases");
    assert!(releases.is_empty(), "a failed build created {releases:?}");
    let listed = hangar.run(&["releases", "--json"]).await.ok();
    let listed: serde_json::Value = serde_json::from_str(&listed.out).unwrap();
    assert_eq!(listed.as_array().map(Vec::len), Some(0), "{listed}");
}

fn write_dockerfile(dir: &Path, text: &str) {
    std::fs::write(dir.join("Dockerfile"), text).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_builds_say_why_and_create_no_release() {
    let tb = testbed().await;
    let Some(hangar) = project(&tb, "bldbad", &native_dockerfile()) else {
        return;
    };
    create_app(&tb, "bldbad").await;
    let app = "bldbad";

    fails_without_release(
        &hangar,
        app,
        &["--dockerfile", "Missing.Dockerfile"],
        "no Dockerfile at",
    )
    .await;

    write_dockerfile(
        &hangar.dir,
        "FROM scratch\nCOPY busybox /bin/busybox\nFROBNICATE now\n",
    );
    fails_without_release(&hangar, app, &["--builder", "native"], "Dockerfile:3").await;

    write_dockerfile(
        &hangar.dir,
        "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"true\"]\n",
    );
    fails_without_release(
        &hangar,
        app,
        &["--builder", "native"],
        "RUN needs a builder that can run commands",
    )
    .await;

    write_dockerfile(&hangar.dir, &native_dockerfile());
    let over = std::process::Command::new(env!("CARGO_BIN_EXE_hangar"))
        .args(["deploy", "--builder", "native"])
        .current_dir(&hangar.dir)
        .env("HANGAR_API_URL", &tb.platform.url)
        .env("HANGAR_API_TOKEN", &tb.platform.token)
        .env("HANGAR_BUILD_CONTEXT_LIMIT", "1000")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&over.stderr);
    assert_ne!(over.status.code(), Some(0), "{err}");
    assert!(err.contains("over the limit of 1000 bytes"), "{err}");
    assert!(err.contains(".dockerignore"), "{err}");
    assert!(tb.client.list_releases(app).await.unwrap().is_empty());

    write_dockerfile(
        &hangar.dir,
        "FROM 127.0.0.1:1/nothing/here:v1\nCMD [\"x\"]\n",
    );
    fails_without_release(
        &hangar,
        app,
        &["--builder", "native"],
        "cannot use base image",
    )
    .await;
    tb.stop().await;
}

/// SIGTERM while `hangar dev --example` is still deploying the example, its
/// Machine already created: `hangar dev` stops as on Ctrl-C (exit 0, not
/// killed by the signal), and the Machine stops with it — no process is left
/// running under its data dir. (It used to listen for the signal only once
/// the example was deployed, so the signal killed it and the Machine ran on.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_stopped_while_the_example_deploys_leaves_no_machine_running() {
    if hangar_testbed::skip_unless_root(
        "dev_stopped_while_the_example_deploys_leaves_no_machine_running",
    ) {
        return;
    }
    let scratch = tempfile::tempdir().unwrap();
    let data = scratch.path().join("data");
    let dev = DevProcess::builder(&data)
        .args(["--example"])
        .args(networks::EXAMPLE_STOPPED.args())
        .start()
        .await;
    let client = dev.client();
    // The native build of the (debug) binary takes a while on 2 cores; the
    // deploy is still waiting for this Machine when it is first listed.
    let machines = hangar_testbed::wait_until_async(
        "a Machine of the example",
        std::time::Duration::from_secs(420),
        || async {
            let machines = client
                .list_machines("hello", &Default::default())
                .await
                .map_err(|e| e.to_string())?;
            if machines.is_empty() {
                Err("no Machine yet".to_string())
            } else {
                Ok(machines)
            }
        },
    )
    .await;
    let (status, leftovers) = dev.stop_and_sweep();
    assert!(
        status.success(),
        "hangar dev exited with {status} on SIGTERM during the example's deploy"
    );
    assert!(
        leftovers.is_empty(),
        "the example's Machine {} outlived hangar dev: {leftovers:#?}",
        machines[0].id
    );
}

/// `hangar dev --example` (the README's first command): examples/hello is
/// built natively, pushed and deployed as release 1, and its Machine
/// answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_example_deploys_hello_as_release_one() {
    if hangar_testbed::skip_unless_root("dev_example_deploys_hello_as_release_one") {
        return;
    }
    let scratch = tempfile::tempdir().unwrap();
    let data = scratch.path().join("data");
    let dev = DevProcess::builder(&data)
        .args(["--example"])
        // Its own network, apart from any other `hangar dev` on this host.
        .args(networks::EXAMPLE_DEPLOY.args())
        .start()
        .await;
    let client = dev.client();
    // The native build of the (debug) binary takes a while on 2 cores.
    let releases = hangar_testbed::wait_until_async(
        "release 1 of the example",
        std::time::Duration::from_secs(420),
        || async {
            let releases = client
                .list_releases("hello")
                .await
                .map_err(|e| e.to_string())?;
            match releases.first() {
                Some(r) if r.status == hangar_types::ReleaseStatus::Complete => Ok(releases),
                other => Err(format!("{other:?}")),
            }
        },
    )
    .await;
    assert_eq!(releases.len(), 1, "{releases:?}");
    assert!(releases[0].image.contains("/hello@sha256:"), "{releases:?}");
    let machines = client
        .list_machines("hello", &Default::default())
        .await
        .unwrap();
    assert_eq!(machines.len(), 1, "{machines:?}");
    let body = wait_http(&url_of(&machines[0])).await;
    assert!(body.starts_with("Hello from Hangar!"), "{body}");
    assert!(body.contains(&machines[0].id), "{body}");
    // The visit counter lives on the volume the deploy gave the Machine.
    let visits = |body: &str| -> u64 {
        body.lines()
            .find_map(|l| l.strip_prefix("visits:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no visit count (is /data mounted?): {body}"))
    };
    let first = visits(&body);
    let again = http_get(&url_of(&machines[0])).await.expect("second visit");
    assert_eq!(visits(&again), first + 1, "{again}");
    let listed = std::process::Command::new(env!("CARGO_BIN_EXE_hangar"))
        .args(["releases", "-a", "hello"])
        .env("HANGAR_API_URL", dev.api_url())
        .env("HANGAR_API_TOKEN", dev.token())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&listed.stdout);
    assert!(
        out.contains("v1") && out.contains("hangar dev --example"),
        "{out}"
    );
    // Stopped right after release 1 completes, often before `hangar dev`
    // has seen its deploy finish: the Machine stops with it all the same.
    let (status, leftovers) = dev.stop_and_sweep();
    assert!(
        status.success(),
        "hangar dev exited with {status} on SIGTERM"
    );
    assert!(leftovers.is_empty(), "left running: {leftovers:#?}");
}
