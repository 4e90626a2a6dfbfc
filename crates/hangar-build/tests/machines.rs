//! Built images run as Machines on the process driver: native FROM scratch
//! and FROM host, Docker with RUN steps, buildah.
//!
//! The Machine init is the `hangar` binary beside the test executable
//! (`cargo build -p hangar` first, or set HANGAR_INIT_EXE).

mod support;

use std::path::Path;

use hangar_build::{BuilderChoice, BuilderKind};
use hangar_testbed::Testbed;

use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_scratch_image_runs_as_a_machine() {
    if skip_unless_root_with_busybox("native_scratch_image_runs_as_a_machine") {
        return;
    }
    let tb = Testbed::start(None).await.expect("testbed");
    let dir = tb.scratch("native-scratch");
    let context = context(
        &dir,
        "FROM scratch\nCOPY busybox /bin/busybox\nCOPY message.txt /etc/\nARG WHO=nobody\nENV WHO=$WHO\n\
         CMD [\"/bin/busybox\", \"sh\", \"-c\", \"echo hello from $WHO; /bin/busybox cat /etc/message.txt\"]\n",
        true,
    );
    let (image, output) = build_with(BuilderChoice::Native, &context, &dir.join("image"))
        .await
        .expect("native build");
    assert_eq!(image.builder_used, BuilderKind::Native);
    assert!(
        output.iter().any(|l| l.contains("COPY busybox")),
        "{output:?}"
    );
    let lines = run_and_read(&tb, "native-scratch", &image, "built by hangar").await;
    assert!(lines.iter().any(|l| l == "hello from args"), "{lines:?}");
    tb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn from_host_runs_a_host_program_in_a_machine() {
    if hangar_testbed::skip_unless_root("from_host_runs_a_host_program_in_a_machine") {
        return;
    }
    let tb = Testbed::start(None).await.expect("testbed");
    let dir = tb.scratch("from-host");
    let context = context(
        &dir,
        "FROM host\nCOPY message.txt /app/\nWORKDIR /app\n\
         CMD [\"/bin/sh\", \"-c\", \"echo from-host; cat message.txt; touch /usr/hangar-write-test || echo usr-is-read-only\"]\n",
        false,
    );
    // Auto picks native for FROM host even when Docker is reachable.
    let (image, _) = build_with(BuilderChoice::Auto, &context, &dir.join("image"))
        .await
        .expect("FROM host build");
    assert_eq!(image.builder_used, BuilderKind::Native);
    let lines = run_and_read(&tb, "from-host", &image, "usr-is-read-only").await;
    assert!(lines.iter().any(|l| l == "from-host"), "{lines:?}");
    assert!(lines.iter().any(|l| l == "built by hangar"), "{lines:?}");
    assert!(!Path::new("/usr/hangar-write-test").exists());
    tb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_builds_run_steps_and_the_image_runs_as_a_machine() {
    let test = "docker_builds_run_steps";
    if skip_unless_root_with_busybox(test) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let context = context(dir.path(), RUN_STEP_DOCKERFILE, true);
    std::fs::write(context.join(".dockerignore"), "message.txt\n").unwrap();
    let out = dir.path().join("image");
    let Some((image, output)) = build_or_skip(test, BuilderChoice::Docker, &context, &out).await
    else {
        return;
    };
    assert_eq!(image.builder_used, BuilderKind::Docker);
    assert!(
        output.iter().any(|l| l.contains("RUN")),
        "streamed output: {output:?}"
    );
    let tb = Testbed::start(None).await.expect("testbed");
    let lines = run_and_read(&tb, "docker-built", &image, "hi from args").await;
    assert!(lines.iter().any(|l| l == "hi from args"), "{lines:?}");
    tb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buildah_builds_run_steps() {
    let test = "buildah_builds_run_steps";
    if skip_unless_root_with_busybox(test) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let context = context(dir.path(), RUN_STEP_DOCKERFILE, true);
    let out = dir.path().join("image");
    let Some((image, _)) = build_or_skip(test, BuilderChoice::Buildah, &context, &out).await else {
        return;
    };
    assert_eq!(image.builder_used, BuilderKind::Buildah);
    let store = hangar_image::ImageStore::open(&dir.path().join("store")).unwrap();
    let resolved = store.resolve(&image.reference()).await.expect("resolve");
    let hi = resolved
        .layers
        .iter()
        .rev()
        .find_map(|l| std::fs::read_to_string(l.join("hi")).ok());
    assert_eq!(hi.as_deref(), Some("hi from args\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_app_builds_natively_and_serves_http() {
    if hangar_testbed::skip_unless_root("the_example_app_builds_natively_and_serves_http") {
        return;
    }
    let tb = Testbed::start(None).await.expect("testbed");
    // Stage examples/hello with the hangar binary, as a deploy of it would.
    let context = tb.scratch("example-context");
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/hello");
    for name in ["Dockerfile", ".dockerignore", "README.md"] {
        std::fs::copy(example.join(name), context.join(name)).unwrap();
    }
    std::fs::copy(&tb.init_exe, context.join("hangar"))
        .expect("the hangar binary (cargo build -p hangar)");
    let (image, _) = build_with(
        BuilderChoice::Native,
        &context,
        &tb.scratch("example").join("image"),
    )
    .await
    .expect("native build of examples/hello");
    let lines = run_and_read(&tb, "hello-example", &image, "listening on port 8080").await;
    assert!(
        lines.iter().any(|l| l.contains("hello: listening")),
        "{lines:?}"
    );
    let machines = tb
        .client
        .list_machines("hello-example", &Default::default())
        .await
        .unwrap();
    let ip = machines[0].private_ipv4.clone().expect("a private IPv4");
    let mut stream = tokio::net::TcpStream::connect((ip.as_str(), 8080))
        .await
        .expect("connect");
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: hello\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    assert!(answer.contains("Hello from Hangar!"), "{answer}");
    assert!(
        answer.contains(&format!("machine: {}", machines[0].id)),
        "{answer}"
    );
    tb.stop().await;
}
