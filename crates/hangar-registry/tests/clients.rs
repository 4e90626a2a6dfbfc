//! Real clients against the registry: Docker, skopeo, buildah and Hangar's
//! own push client and image store. A missing tool prints SKIPPED.

mod common;

use std::path::Path;

use common::{busybox_layout, have_tool, run, try_run, TestRegistry};

/// A Docker client configuration of its own, so logins do not leak.
struct DockerConfig(tempfile::TempDir);

impl DockerConfig {
    fn new() -> DockerConfig {
        DockerConfig(tempfile::tempdir().unwrap())
    }

    fn run(&self, args: &[&str]) -> (bool, String) {
        let output = std::process::Command::new("docker")
            .env("DOCKER_CONFIG", self.0.path())
            .args(args)
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        (output.status.success(), text)
    }

    fn login(&self, host: &str, token: &str) {
        let mut child = std::process::Command::new("docker")
            .env("DOCKER_CONFIG", self.0.path())
            .args(["login", host, "-u", "hangar", "--password-stdin"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(token.as_bytes())
            .unwrap();
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "docker login failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

fn docker_usable(test: &str) -> bool {
    if !have_tool("docker", test, "docker.io") {
        return false;
    }
    if !try_run("docker", &["info"]).0 {
        eprintln!("SKIPPED {test}: the Docker daemon is not reachable");
        return false;
    }
    true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_push_and_pull() {
    let test = "docker_push_and_pull";
    if !docker_usable(test) {
        return;
    }
    let reg = TestRegistry::start().await;
    let dir = tempfile::tempdir().unwrap();
    let marker = format!("pushed by docker {}", std::process::id());
    let Some(_) = busybox_layout(dir.path(), &marker) else {
        return;
    };
    let tarball = dir.path().join("rootfs.tar");
    run(
        "tar",
        &[
            "-C",
            &dir.path().join("rootfs").display().to_string(),
            "-cf",
            &tarball.display().to_string(),
            ".",
        ],
    );
    let image = format!("{}/app/img:v1", reg.host());
    run(
        "docker",
        &[
            "import",
            "--change",
            "CMD [\"/bin/cat\", \"/marker\"]",
            &tarball.display().to_string(),
            &image,
        ],
    );

    let anonymous = DockerConfig::new();
    let (pushed, output) = anonymous.run(&["push", &image]);
    assert!(
        !pushed,
        "an unauthenticated docker push succeeded: {output}"
    );
    assert!(
        output.to_lowercase().contains("unauthorized") || output.contains("no basic auth"),
        "{output}"
    );

    let docker = DockerConfig::new();
    docker.login(&reg.host(), &reg.token);
    let (pushed, output) = docker.run(&["push", &image]);
    assert!(pushed, "docker push failed: {output}");
    run("docker", &["rmi", &image]);
    let (pulled, output) = docker.run(&["pull", &image]);
    assert!(pulled, "docker pull failed: {output}");
    let (ran, output) = docker.run(&["run", "--rm", "--network", "none", &image]);
    let _ = try_run("docker", &["rmi", &image]);
    assert!(ran, "docker run of the pulled image failed: {output}");
    assert!(output.contains(&marker), "{output}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skopeo_copy_and_inspect() {
    let test = "skopeo_copy_and_inspect";
    if !have_tool("skopeo", test, "skopeo") {
        return;
    }
    let reg = TestRegistry::start().await;
    let dir = tempfile::tempdir().unwrap();
    let Some(image) = busybox_layout(dir.path(), "copied by skopeo") else {
        return;
    };
    let creds = format!("x:{}", reg.token);
    let dest = format!("docker://{}/app/sk:v1", reg.host());
    let no_auth = dir.path().join("no-auth.json");
    let (copied, output) = try_run(
        "skopeo",
        &[
            "copy",
            "--authfile",
            &no_auth.display().to_string(),
            "--dest-tls-verify=false",
            &image.reference,
            &dest,
        ],
    );
    assert!(
        !copied,
        "an unauthenticated skopeo copy succeeded: {output}"
    );
    run(
        "skopeo",
        &[
            "copy",
            "--dest-tls-verify=false",
            "--dest-creds",
            &creds,
            &image.reference,
            &dest,
        ],
    );
    let inspected = run(
        "skopeo",
        &["inspect", "--tls-verify=false", "--creds", &creds, &dest],
    );
    let inspected: serde_json::Value = serde_json::from_str(&inspected).unwrap();
    assert!(inspected["Digest"].as_str().unwrap().starts_with("sha256:"));
    assert_eq!(inspected["Layers"].as_array().unwrap().len(), 1);
    let raw = run(
        "skopeo",
        &[
            "inspect",
            "--raw",
            "--tls-verify=false",
            "--creds",
            &creds,
            &dest,
        ],
    );
    assert!(raw.contains("\"layers\""), "{raw}");
    // And back out into a directory, every blob verified by skopeo.
    let out = dir.path().join("pulled");
    run(
        "skopeo",
        &[
            "copy",
            "--src-tls-verify=false",
            "--src-creds",
            &creds,
            &dest,
            &format!("dir:{}", out.display()),
        ],
    );
    assert!(out.join("manifest.json").is_file());
    let tags = run(
        "skopeo",
        &[
            "list-tags",
            "--tls-verify=false",
            "--creds",
            &creds,
            &format!("docker://{}/app/sk", reg.host()),
        ],
    );
    assert!(tags.contains("\"v1\""), "{tags}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buildah_push() {
    let test = "buildah_push";
    if !have_tool("buildah", test, "buildah") {
        return;
    }
    let reg = TestRegistry::start().await;
    // buildah names an image pulled from an OCI layout after its path, which
    // must be lowercase: no random temporary directory name.
    let dir = LowercaseDir::new(&format!("hangar-registry-buildah-{}", std::process::id()));
    let Some(image) = busybox_layout(dir.path(), "pushed by buildah") else {
        return;
    };
    let root = dir.path().join("storage").display().to_string();
    let runroot = dir.path().join("run").display().to_string();
    let buildah = |args: &[&str]| {
        let mut all = vec![
            "--root",
            root.as_str(),
            "--runroot",
            runroot.as_str(),
            "--storage-driver",
            "vfs",
        ];
        all.extend_from_slice(args);
        run("buildah", &all)
    };
    let id = buildah(&["pull", "--quiet", &image.reference]);
    let id = id.trim().lines().last().unwrap().to_owned();
    let creds = format!("x:{}", reg.token);
    let dest = format!("docker://{}/app/bh:v1", reg.host());
    buildah(&["push", "--tls-verify=false", "--creds", &creds, &id, &dest]);
    let http = reqwest::Client::new();
    let manifest = http
        .get(format!("{}/v2/app/bh/manifests/v1", reg.url()))
        .basic_auth("x", Some(&reg.token))
        .header("accept", "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json")
        .send()
        .await
        .unwrap();
    assert_eq!(manifest.status(), reqwest::StatusCode::OK);
}

/// A scratch directory with a fixed lowercase name, removed on drop.
struct LowercaseDir(std::path::PathBuf);

impl LowercaseDir {
    fn new(name: &str) -> LowercaseDir {
        let path = std::env::temp_dir().join(name);
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        LowercaseDir(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for LowercaseDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hangar_push_client_and_image_store_pull() {
    let reg = TestRegistry::start().await;
    let dir = tempfile::tempdir().unwrap();
    let Some(image) = busybox_layout(dir.path(), "pushed by hangar") else {
        return;
    };
    let reference = format!("{}/app/web:v1", reg.host());
    let refused = hangar_image::push::push_oci_layout(&image.layout, &reference, None).await;
    assert!(
        matches!(refused, Err(hangar_image::ImageError::Unauthorized { .. })),
        "{refused:?}"
    );
    let login = hangar_image::push::RegistryLogin {
        user: "hangar".into(),
        password: reg.token.clone(),
    };
    let digest = hangar_image::push::push_oci_layout(&image.layout, &reference, Some(&login))
        .await
        .expect("push");
    let files = reg.blob_files();
    // Pushing again uploads nothing new and names the same manifest.
    let again = hangar_image::push::push_oci_layout(&image.layout, &reference, Some(&login))
        .await
        .unwrap();
    assert_eq!(again, digest);
    assert_eq!(reg.blob_files(), files);

    // The image store pulls it with the platform token, as an agent does.
    let store = hangar_image::ImageStore::open(&dir.path().join("images")).unwrap();
    let anonymous = store.resolve(&reference).await;
    assert!(anonymous.is_err(), "pulled without credentials");
    store.add_registry_login(&reg.host(), "hangar", &reg.token);
    let resolved = store
        .resolve(&reference)
        .await
        .expect("pull with the platform token");
    assert_eq!(resolved.digest, digest);
    let marker = resolved
        .layers
        .iter()
        .map(|l| l.join("marker"))
        .find(|p| p.is_file())
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(marker).unwrap(),
        "pushed by hangar\n"
    );
}
