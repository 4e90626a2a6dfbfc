//! Built images run as Machines on the process driver: native FROM scratch
//! and FROM host, Docker with RUN steps, buildah.
//!
//! The Machine init is the `hangar` binary beside the test executable
//! (`cargo build -p hangar` first, or set HANGAR_INIT_EXE).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use hangar_build::{build, BuildRequest, BuilderChoice, BuilderKind, BuiltImage};
use hangar_client::LogOptions;
use hangar_testbed::Testbed;
use hangar_types::{CreateAppRequest, CreateMachineRequest, MachineConfig, MachineGuest};

fn context(dir: &Path, dockerfile: &str, busybox: bool) -> std::path::PathBuf {
    let context = dir.join("ctx");
    std::fs::create_dir_all(&context).unwrap();
    std::fs::write(context.join("Dockerfile"), dockerfile).unwrap();
    std::fs::write(context.join("message.txt"), "built by hangar\n").unwrap();
    if busybox {
        std::fs::copy("/bin/busybox", context.join("busybox")).unwrap();
    }
    context
}

fn have_busybox(test: &str) -> bool {
    let found = Path::new("/bin/busybox").is_file();
    if !found {
        eprintln!("SKIPPED {test}: /bin/busybox missing; apt-get install busybox-static");
    }
    found
}

/// Runs `image` as a Machine of a new app and returns its first log lines
/// once one contains `expect`.
async fn run_and_read(tb: &Testbed, app: &str, image: &BuiltImage, expect: &str) -> Vec<String> {
    tb.client
        .create_app(&CreateAppRequest {
            app_name: Some(app.into()),
            org_slug: Some("personal".into()),
            ..Default::default()
        })
        .await
        .expect("create app");
    let config = MachineConfig {
        image: image.reference(),
        guest: Some(MachineGuest {
            cpus: Some(1),
            memory_mb: Some(128),
            cpu_kind: Some("shared".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let machine = tb
        .client
        .create_machine(
            app,
            &CreateMachineRequest {
                config,
                ..Default::default()
            },
        )
        .await
        .expect("create machine from the built image");
    let mut stream = tb
        .client
        .machine_logs(
            app,
            &machine.id,
            &LogOptions {
                follow: true,
                tail: None,
            },
        )
        .await
        .expect("logs");
    let mut lines = Vec::new();
    let collect = async {
        while let Some(line) = stream.next().await {
            lines.push(line.expect("log line").message);
            if lines.iter().any(|l| l.contains(expect)) {
                break;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(30), collect)
        .await
        .unwrap_or_else(|_| panic!("no log line with {expect:?} within 30s"));
    lines
}

async fn build_with(
    choice: BuilderChoice,
    context: &Path,
    out: &Path,
) -> Result<(BuiltImage, Vec<String>), hangar_build::BuildError> {
    let output = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&output);
    let mut request = BuildRequest::new(context, out);
    request.builder = choice;
    request.build_args = BTreeMap::from([("WHO".to_owned(), "args".to_owned())]);
    request.on_output = Some(Arc::new(move |line: &str| {
        sink.lock().unwrap().push(line.to_owned());
    }));
    let image = build(&request).await?;
    let lines = output.lock().unwrap().clone();
    Ok((image, lines))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_scratch_image_runs_as_a_machine() {
    if hangar_testbed::skip_unless_root("native_scratch_image_runs_as_a_machine")
        || !have_busybox("native_scratch_image_runs_as_a_machine")
    {
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
    if hangar_testbed::skip_unless_root("docker_builds_run_steps")
        || !have_busybox("docker_builds_run_steps")
    {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let context = context(
        dir.path(),
        "FROM scratch\nCOPY busybox /bin/busybox\nARG WHO=nobody\n\
         RUN [\"/bin/busybox\", \"sh\", \"-c\", \"echo hi from $WHO > /hi\"]\n\
         CMD [\"/bin/busybox\", \"cat\", \"/hi\"]\n",
        true,
    );
    std::fs::write(context.join(".dockerignore"), "message.txt\n").unwrap();
    let (image, output) =
        match build_with(BuilderChoice::Docker, &context, &dir.path().join("image")).await {
            Ok(built) => built,
            Err(hangar_build::BuildError::BuilderUnavailable { reason, .. }) => {
                eprintln!("SKIPPED docker_builds_run_steps: no Docker daemon ({reason})");
                return;
            }
            Err(e) => panic!("docker build: {e}"),
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
    if hangar_testbed::skip_unless_root("buildah_builds_run_steps")
        || !have_busybox("buildah_builds_run_steps")
    {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let context = context(
        dir.path(),
        "FROM scratch\nCOPY busybox /bin/busybox\nARG WHO=nobody\n\
         RUN [\"/bin/busybox\", \"sh\", \"-c\", \"echo hi from $WHO > /hi\"]\n\
         CMD [\"/bin/busybox\", \"cat\", \"/hi\"]\n",
        true,
    );
    let (image, _) =
        match build_with(BuilderChoice::Buildah, &context, &dir.path().join("image")).await {
            Ok(built) => built,
            Err(hangar_build::BuildError::BuilderUnavailable { reason, .. }) => {
                eprintln!("SKIPPED buildah_builds_run_steps: {reason}");
                return;
            }
            Err(e) => panic!("buildah build: {e}"),
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
