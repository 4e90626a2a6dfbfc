//! Bad input: each a clear error naming what is wrong, nothing written.

use std::path::Path;

use hangar_build::{build, BuildError, BuildRequest, BuilderChoice};

fn request(dir: &Path, dockerfile: &str) -> BuildRequest {
    let context = dir.join("ctx");
    std::fs::create_dir_all(&context).unwrap();
    std::fs::write(context.join("Dockerfile"), dockerfile).unwrap();
    std::fs::write(context.join("hello.txt"), "hello\n").unwrap();
    let mut request = BuildRequest::new(&context, dir.join("out"));
    request.builder = BuilderChoice::Native;
    request.image_store = Some(hangar_image::ImageStore::open(&dir.join("store")).unwrap());
    request
}

async fn fails(dockerfile: &str) -> (BuildError, String) {
    let dir = tempfile::tempdir().unwrap();
    let request = request(dir.path(), dockerfile);
    let error = build(&request).await.expect_err("the build must fail");
    assert!(
        !dir.path().join("out").exists(),
        "nothing is written on failure"
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains(".build-"))
        .collect();
    assert!(leftovers.is_empty(), "scratch directories are removed");
    let message = error.to_string();
    (error, message)
}

#[tokio::test]
async fn a_broken_line_is_named() {
    let (error, message) = fails("FROM scratch\n# comment\nCOPY hello.txt /\nCOPPY x /y\n").await;
    assert!(
        matches!(error, BuildError::Dockerfile(ref e) if e.line == 4),
        "{message}"
    );
    assert!(message.starts_with("broken Dockerfile line: "), "{message}");
    assert!(
        message.contains("Dockerfile:4: unknown instruction \"COPPY\""),
        "{message}"
    );
}

#[tokio::test]
async fn continuation_lines_keep_the_first_line_number() {
    let (_, message) =
        fails("FROM scratch\nCOPY \\\n  hello.txt \\\n  /\nEXPOSE \\\n  notaport\n").await;
    assert!(message.contains("Dockerfile:5: EXPOSE"), "{message}");
}

#[tokio::test]
async fn instructions_before_from_and_heredocs_are_refused() {
    let (_, message) = fails("COPY hello.txt /\nFROM scratch\n").await;
    assert!(
        message.contains("Dockerfile:1: COPY before the first FROM"),
        "{message}"
    );
    let (_, message) = fails("FROM scratch\nCOPY <<EOF /x\nhi\nEOF\n").await;
    assert!(
        message.contains("Dockerfile:2") && message.contains("heredoc"),
        "{message}"
    );
}

#[tokio::test]
async fn run_under_the_native_builder_names_the_builders_that_can() {
    let (error, message) = fails("FROM scratch\nCOPY hello.txt /\nRUN echo hi\n").await;
    assert!(
        matches!(error, BuildError::NeedsExecution { line: 3, .. }),
        "{message}"
    );
    assert!(message.contains("Dockerfile:3: RUN"), "{message}");
    assert!(message.contains("--builder docker"), "{message}");
    assert!(message.contains("--builder buildah"), "{message}");
}

#[tokio::test]
async fn a_run_in_an_unused_stage_does_not_matter() {
    let dir = tempfile::tempdir().unwrap();
    let mut request = request(
        dir.path(),
        "FROM scratch AS tools\nRUN make\nFROM scratch AS app\nCOPY hello.txt /\n",
    );
    request.target = Some("app".into());
    build(&request).await.expect("only the app stage is built");
}

#[tokio::test]
async fn a_missing_dockerfile_says_where_it_looked() {
    let dir = tempfile::tempdir().unwrap();
    let mut request = request(dir.path(), "FROM scratch\n");
    request.dockerfile = Some(dir.path().join("ctx/Dockerfile.prod"));
    let error = build(&request).await.unwrap_err();
    assert!(matches!(error, BuildError::MissingDockerfile(_)));
    assert!(error.to_string().contains("Dockerfile.prod"), "{error}");
}

#[tokio::test]
async fn a_base_image_that_cannot_be_pulled() {
    // A loopback port nobody listens on: the pull fails fast, without the internet.
    let (error, message) = fails("FROM 127.0.0.1:9/nothing/here:1\nCOPY hello.txt /\n").await;
    assert!(
        matches!(error, BuildError::BaseImage { line: 1, .. }),
        "{message}"
    );
    assert!(
        message.contains("cannot use base image \"127.0.0.1:9/nothing/here:1\""),
        "{message}"
    );
}

#[tokio::test]
async fn a_context_over_the_limit_is_refused_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let mut request = request(dir.path(), "FROM scratch\nRUN never-parsed\n");
    std::fs::write(dir.path().join("ctx/big.bin"), vec![0u8; 64 * 1024]).unwrap();
    request.context_limit = 32 * 1024;
    let error = build(&request).await.unwrap_err();
    assert!(
        matches!(error, BuildError::ContextTooLarge { limit: 32768, .. }),
        "{error}"
    );
    assert!(error.to_string().contains(".dockerignore"), "{error}");
    // Ignored files do not count.
    std::fs::write(dir.path().join("ctx/.dockerignore"), "big.bin\n").unwrap();
    std::fs::write(
        dir.path().join("ctx/Dockerfile"),
        "FROM scratch\nCOPY hello.txt /\n",
    )
    .unwrap();
    build(&request)
        .await
        .expect("within the limit once big.bin is ignored");
}

#[tokio::test]
async fn add_of_a_url_and_an_unknown_target_are_refused() {
    let (_, message) = fails("FROM scratch\nADD https://example.com/x /x\n").await;
    assert!(
        message.contains("Dockerfile:2: ADD: ADD of a URL"),
        "{message}"
    );
    let dir = tempfile::tempdir().unwrap();
    let mut request = request(dir.path(), "FROM scratch AS a\nCOPY hello.txt /\n");
    request.target = Some("b".into());
    let error = build(&request).await.unwrap_err();
    assert!(matches!(error, BuildError::UnknownTarget(_)), "{error}");
}

#[tokio::test]
async fn missing_sources_and_unknown_users_name_the_line() {
    let (_, message) = fails("FROM scratch\nCOPY nothere.txt /\n").await;
    assert!(
        message.contains("Dockerfile:2: COPY: \"nothere.txt\" not found"),
        "{message}"
    );
    let (_, message) = fails("FROM scratch\nCOPY --chown=alice hello.txt /\n").await;
    assert!(
        message.contains("Dockerfile:2") && message.contains("alice"),
        "{message}"
    );
}

#[tokio::test]
async fn from_host_with_another_builder_says_to_use_native() {
    if std::path::Path::new("/var/run/docker.sock").exists() {
        let dir = tempfile::tempdir().unwrap();
        let mut request = request(dir.path(), "FROM host\nCOPY hello.txt /\n");
        request.builder = BuilderChoice::Docker;
        match build(&request).await {
            Err(BuildError::BuilderUnavailable { reason, .. }) if reason.contains("daemon") => {
                eprintln!("SKIPPED from_host_with_another_builder: {reason}")
            }
            Err(BuildError::BuilderUnavailable { reason, .. }) => {
                assert!(reason.contains("--builder native"), "{reason}")
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
    } else {
        eprintln!("SKIPPED from_host_with_another_builder: no Docker socket");
    }
}
