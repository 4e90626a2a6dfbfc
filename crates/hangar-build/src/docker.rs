//! The Docker builder: the Engine API on the local socket (bollard). The
//! context goes up as a tar honouring `.dockerignore`; build output is
//! streamed line by line; the image is exported (`docker save`) and
//! converted into the OCI layout, then removed from the daemon.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use bollard::query_parameters::{BuildImageOptionsBuilder, RemoveImageOptionsBuilder};
use bollard::Docker;
use futures_util::StreamExt;

use crate::error::BuildError;
use crate::BuildRequest;

/// How long the daemon gets to answer a ping.
const PING_TIMEOUT: Duration = Duration::from_secs(3);

/// A client for the local daemon (`DOCKER_HOST=unix://…` or
/// `/var/run/docker.sock`), if it answers.
pub(crate) async fn connect() -> Result<Docker, String> {
    let docker = Docker::connect_with_unix_defaults()
        .map_err(|e| format!("cannot reach the Docker daemon: {e}"))?;
    match tokio::time::timeout(PING_TIMEOUT, docker.ping()).await {
        Ok(Ok(_)) => Ok(docker),
        Ok(Err(e)) => Err(format!("the Docker daemon does not answer: {e}")),
        Err(_) => Err("the Docker daemon did not answer within 3s".into()),
    }
}

fn failed(message: impl Into<String>) -> BuildError {
    BuildError::BuilderFailed {
        builder: "docker".into(),
        message: message.into(),
    }
}

/// Builds with the daemon and writes the result into the layout `out`.
pub(crate) async fn build(
    request: &BuildRequest,
    dockerfile: &Path,
    out: &Path,
) -> Result<String, BuildError> {
    let docker = connect()
        .await
        .map_err(|reason| BuildError::BuilderUnavailable {
            builder: "docker".into(),
            reason,
        })?;
    // A Dockerfile inside the context is named by its relative path; one
    // outside is added to the upload under a name of its own.
    let context = std::fs::canonicalize(&request.context_dir).map_err(BuildError::io(format!(
        "reading {}",
        request.context_dir.display()
    )))?;
    let dockerfile = std::fs::canonicalize(dockerfile)
        .map_err(BuildError::io(format!("reading {}", dockerfile.display())))?;
    let (dockerfile_name, extra) = match dockerfile.strip_prefix(&context) {
        Ok(relative) => (relative.to_string_lossy().into_owned(), None),
        Err(_) => (".hangar.Dockerfile".to_owned(), Some(dockerfile.as_path())),
    };
    let tar = crate::context::tar(&context, extra.map(|p| (p, ".hangar.Dockerfile")))?;

    let tag = format!(
        "hangar-build-{}-{}:latest",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    );
    let build_args: HashMap<String, String> = request.build_args.clone().into_iter().collect();
    let labels: HashMap<String, String> = request.labels.clone().into_iter().collect();
    let mut options = BuildImageOptionsBuilder::default()
        .dockerfile(&dockerfile_name)
        .t(&tag)
        .rm(true)
        .forcerm(true)
        .buildargs(&build_args)
        .labels(&labels);
    if let Some(target) = &request.target {
        options = options.target(target);
    }
    let mut stream =
        docker.build_image(options.build(), None, Some(bollard::body_full(tar.into())));
    let mut last_lines: Vec<String> = Vec::new();
    while let Some(item) = stream.next().await {
        let info = item.map_err(|e| failed(e.to_string()))?;
        if let Some(text) = info.stream.as_deref().or(info.status.as_deref()) {
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                request.say(line);
                last_lines.push(line.to_owned());
                if last_lines.len() > 20 {
                    last_lines.remove(0);
                }
            }
        }
        if let Some(error) = info.error_detail.and_then(|d| d.message) {
            request.say(&error);
            return Err(failed(format!(
                "{error} (last output: {})",
                last_lines.join(" | ")
            )));
        }
    }

    let result = export(&docker, &tag, request, out).await;
    let _ = docker
        .remove_image(
            &tag,
            Some(RemoveImageOptionsBuilder::default().force(true).build()),
            None,
        )
        .await;
    result
}

async fn export(
    docker: &Docker,
    tag: &str,
    request: &BuildRequest,
    out: &Path,
) -> Result<String, BuildError> {
    let archive = out.join(".docker-save.tar");
    let mut file = tokio::fs::File::create(&archive)
        .await
        .map_err(BuildError::io(format!("creating {}", archive.display())))?;
    let mut chunks = docker.export_image(tag);
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(|e| failed(format!("exporting the image: {e}")))?;
        tokio::io::AsyncWriteExt::write_all(&mut file, &chunk)
            .await
            .map_err(BuildError::io(format!("writing {}", archive.display())))?;
    }
    drop(file);
    let (out_owned, archive_owned, tag_owned) =
        (out.to_path_buf(), archive.clone(), request.tag.clone());
    let digest = tokio::task::spawn_blocking(move || {
        crate::archive::docker_archive_to_layout(&archive_owned, &out_owned, &tag_owned)
    })
    .await
    .map_err(|e| failed(format!("converting the image: {e}")))?;
    let _ = std::fs::remove_file(&archive);
    digest
}
