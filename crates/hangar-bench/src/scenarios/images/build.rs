//! Build and deploy time of the example app with each builder: native from
//! examples/hello (`FROM host`), docker and buildah from an equivalent
//! `FROM scratch` Dockerfile (the hangar binary and the libraries `ldd`
//! lists). Each repetition builds, pushes to the built-in registry and
//! deploys to a new app; the first build of a builder is cold, the others
//! reuse its cache.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use hangar_build::{BuildRequest, BuilderChoice};

use super::registry;
use super::secs;
use crate::error::BenchError;
use crate::platform::BenchPlatform;

/// The `FROM scratch` equivalent of examples/hello for docker and buildah.
const SCRATCH_DOCKERFILE: &str = "FROM scratch\nCOPY rootfs/ /\nENV PATH=/bin PORT=8080\n\
EXPOSE 8080\nCMD [\"/bin/hangar\", \"example-hello\"]\n";

/// One repetition of one builder.
struct Rep {
    builder: &'static str,
    rep: usize,
    build: Duration,
    push: Duration,
    deploy: Duration,
}

/// Runs `reps` build+push+deploy repetitions per builder; returns the
/// Markdown section (skipped builders and failures included).
pub async fn run(platform: &BenchPlatform, hangar: &Path, work: &Path, reps: usize) -> String {
    let dir = work.join("build-bench");
    let mut rows = Vec::new();
    let mut notes = Vec::new();
    let builders = [
        ("native", BuilderChoice::Native),
        ("docker", BuilderChoice::Docker),
        ("buildah", BuilderChoice::Buildah),
    ];
    for (name, choice) in builders {
        let context = match stage_context(name, hangar, &dir.join(name)) {
            Ok(context) => context,
            Err(e) => {
                notes.push(format!("{name}: cannot stage the build context: {e}"));
                continue;
            }
        };
        for rep in 1..=reps.max(1) {
            eprintln!("build: {name}, repetition {rep}");
            match one_rep(platform, name, choice, &context, &dir, rep).await {
                Ok(row) => rows.push(row),
                Err(e) if rep == 1 => {
                    eprintln!("SKIPPED builder {name}: {e}");
                    notes.push(format!("SKIPPED {name}: {e}"));
                    break;
                }
                Err(e) => notes.push(format!("{name} repetition {rep}: {e}")),
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    markdown(&rows, &notes)
}

/// Writes the build context of `builder` under `dir`.
fn stage_context(builder: &str, hangar: &Path, dir: &Path) -> Result<PathBuf, BenchError> {
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source| BenchError::Io { path, source }
    };
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    if builder == "native" {
        std::fs::write(dir.join("Dockerfile"), hangar::example::DOCKERFILE).map_err(io(dir))?;
        std::fs::copy(hangar, dir.join("hangar")).map_err(io(hangar))?;
        return Ok(dir.to_path_buf());
    }
    std::fs::write(dir.join("Dockerfile"), SCRATCH_DOCKERFILE).map_err(io(dir))?;
    let rootfs = dir.join("rootfs");
    for file in crate::backend::runtime_files(hangar)? {
        let target = if file == hangar {
            rootfs.join("bin/hangar")
        } else {
            rootfs.join(file.strip_prefix("/").unwrap_or(&file))
        };
        let parent = target.parent().unwrap_or(&rootfs);
        std::fs::create_dir_all(parent).map_err(io(parent))?;
        std::fs::copy(&file, &target).map_err(io(&file))?;
    }
    for d in ["tmp", "etc", "data"] {
        std::fs::create_dir_all(rootfs.join(d)).map_err(io(&rootfs))?;
    }
    Ok(dir.to_path_buf())
}

/// Build, push and deploy once.
async fn one_rep(
    platform: &BenchPlatform,
    name: &'static str,
    choice: BuilderChoice,
    context: &Path,
    dir: &Path,
    rep: usize,
) -> Result<Rep, BenchError> {
    let mut request = BuildRequest::new(context, dir.join(format!("{name}-layout")));
    request.builder = choice;
    request.tag = "hello".into();
    let started = Instant::now();
    let built = hangar_build::build(&request)
        .await
        .map_err(BenchError::step(format!("{name} build")))?;
    let build = started.elapsed();
    let app = format!("img-{name}-{rep}");
    let (image, push) =
        registry::push(platform, &built.layout_dir, &format!("{app}/hello"), "v1").await?;
    let _ = std::fs::remove_dir_all(&built.layout_dir);
    let deploy = registry::deploy(platform, &app, &image).await?;
    Ok(Rep {
        builder: name,
        rep,
        build,
        push,
        deploy,
    })
}

fn markdown(rows: &[Rep], notes: &[String]) -> String {
    let mut out = String::from("### Builds: the example app, build → push → deploy\n\n");
    out.push_str(
        "| builder | repetition | build s | push s | deploy → HTTP s |\n|---|---:|---:|---:|---:|\n",
    );
    for r in rows {
        let cache = if r.rep == 1 { " (cold)" } else { " (warm)" };
        let _ = writeln!(
            out,
            "| {} | {}{} | {} | {} | {} |",
            r.builder,
            r.rep,
            cache,
            secs(r.build),
            secs(r.push),
            secs(r.deploy)
        );
    }
    out.push('\n');
    for note in notes {
        let _ = writeln!(out, "- {}", note.replace('\n', " "));
    }
    if !notes.is_empty() {
        out.push('\n');
    }
    out
}
