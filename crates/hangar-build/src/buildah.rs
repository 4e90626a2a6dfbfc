//! The buildah builder: `buildah bud` then `buildah push` into an OCI layout.

use std::path::Path;
use std::process::Stdio;

use std::sync::Mutex;

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Command;

use crate::error::BuildError;
use crate::select::buildah_path;
use crate::BuildRequest;

fn failed(message: impl Into<String>) -> BuildError {
    BuildError::BuilderFailed {
        builder: "buildah".into(),
        message: message.into(),
    }
}

/// Runs `buildah` with `args`, passing its output lines to the request.
async fn run(request: &BuildRequest, args: &[String]) -> Result<(), BuildError> {
    let program = buildah_path().ok_or_else(|| BuildError::BuilderUnavailable {
        builder: "buildah".into(),
        reason: "buildah is not on PATH; install it (apt-get install buildah)".into(),
    })?;
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| failed(format!("cannot start buildah: {e}")))?;
    let stdout = child.stdout.take().expect("piped");
    let stderr = child.stderr.take().expect("piped");
    let last = Mutex::new(Vec::new());
    tokio::join!(pump(stdout, request, &last), pump(stderr, request, &last));
    let status = child
        .wait()
        .await
        .map_err(|e| failed(format!("waiting for buildah: {e}")))?;
    if !status.success() {
        return Err(failed(format!(
            "buildah {} exited with {status}: {}",
            args.first().map(String::as_str).unwrap_or(""),
            last.lock().expect("output lines").join(" | ")
        )));
    }
    Ok(())
}

/// Passes each line to the request and keeps the last 20 for error messages.
async fn pump(reader: impl AsyncRead + Unpin, request: &BuildRequest, last: &Mutex<Vec<String>>) {
    let mut lines = BufReader::new(reader).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        request.say(&line);
        let mut last = last.lock().expect("output lines");
        last.push(line);
        if last.len() > 20 {
            last.remove(0);
        }
    }
}

/// Builds with `buildah bud` and pushes the image into the layout `out`.
pub(crate) async fn build(
    request: &BuildRequest,
    dockerfile: &Path,
    out: &Path,
) -> Result<String, BuildError> {
    let name = format!(
        "localhost/hangar-build-{}-{}",
        std::process::id(),
        out_suffix(out)
    );
    let mut args: Vec<String> = vec![
        "bud".into(),
        "--layers=false".into(),
        "-f".into(),
        dockerfile.display().to_string(),
        "-t".into(),
        name.clone(),
    ];
    for (key, value) in &request.build_args {
        args.push("--build-arg".into());
        args.push(format!("{key}={value}"));
    }
    for (key, value) in &request.labels {
        args.push("--label".into());
        args.push(format!("{key}={value}"));
    }
    if let Some(target) = &request.target {
        args.push("--target".into());
        args.push(target.clone());
    }
    args.push(request.context_dir.display().to_string());
    run(request, &args).await?;
    let layout = format!("oci:{}:{}", out.display(), request.tag);
    let pushed = run(request, &["push".into(), name.clone(), layout]).await;
    let _ = run(request, &["rmi".into(), "-f".into(), name]).await;
    pushed?;
    crate::layout::tagged_digest(out, &request.tag)
}

fn out_suffix(out: &Path) -> String {
    out.file_name()
        .map(|n| {
            n.to_string_lossy()
                .chars()
                .filter(|c| c.is_ascii_alphanumeric())
                .collect()
        })
        .unwrap_or_default()
}
