//! Helpers of the build tests that run built images as Machines: build
//! contexts, builds that skip when their builder is missing, and a Machine's
//! first log lines.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use hangar_build::{build, BuildError, BuildRequest, BuilderChoice, BuiltImage};
use hangar_client::LogOptions;
use hangar_testbed::Testbed;
use hangar_types::{CreateAppRequest, CreateMachineRequest, MachineConfig, MachineGuest};

/// FROM scratch with a RUN step: the image's /hi says "hi from $WHO", and
/// its command prints it.
pub const RUN_STEP_DOCKERFILE: &str = "FROM scratch\nCOPY busybox /bin/busybox\nARG WHO=nobody\n\
     RUN [\"/bin/busybox\", \"sh\", \"-c\", \"echo hi from $WHO > /hi\"]\n\
     CMD [\"/bin/busybox\", \"cat\", \"/hi\"]\n";

/// True (after a SKIPPED line) unless this runs as root with busybox.
pub fn skip_unless_root_with_busybox(test: &str) -> bool {
    hangar_testbed::skip_unless_root(test) || !have_busybox(test)
}

/// Builds with `choice`; `None` (after a SKIPPED line) when that builder is
/// not available on this host.
pub async fn build_or_skip(
    test: &str,
    choice: BuilderChoice,
    context: &Path,
    out: &Path,
) -> Option<(BuiltImage, Vec<String>)> {
    match build_with(choice, context, out).await {
        Ok(built) => Some(built),
        Err(BuildError::BuilderUnavailable { reason, .. }) => {
            eprintln!("SKIPPED {test}: {reason}");
            None
        }
        Err(e) => panic!("{test}: build: {e}"),
    }
}

/// A build context under `dir`: `dockerfile`, message.txt and (if asked)
/// busybox.
pub fn context(dir: &Path, dockerfile: &str, busybox: bool) -> std::path::PathBuf {
    let context = dir.join("ctx");
    std::fs::create_dir_all(&context).unwrap();
    std::fs::write(context.join("Dockerfile"), dockerfile).unwrap();
    std::fs::write(context.join("message.txt"), "built by hangar\n").unwrap();
    if busybox {
        std::fs::copy("/bin/busybox", context.join("busybox")).unwrap();
    }
    context
}

/// Whether /bin/busybox is here (a SKIPPED line if not).
fn have_busybox(test: &str) -> bool {
    let found = Path::new("/bin/busybox").is_file();
    if !found {
        eprintln!("SKIPPED {test}: /bin/busybox missing; apt-get install busybox-static");
    }
    found
}

/// Runs `image` as a Machine of a new app and returns its first log lines
/// once one contains `expect`.
pub async fn run_and_read(
    tb: &Testbed,
    app: &str,
    image: &BuiltImage,
    expect: &str,
) -> Vec<String> {
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

/// Builds `context` into `out` with `choice` and `--build-arg WHO=args`;
/// returns the image and the builder's streamed output.
pub async fn build_with(
    choice: BuilderChoice,
    context: &Path,
    out: &Path,
) -> Result<(BuiltImage, Vec<String>), BuildError> {
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
