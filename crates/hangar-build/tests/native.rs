//! The native builder's output: what lands in the layers and the config,
//! and the same input giving the same digest.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use hangar_build::{build, BuildRequest, BuilderChoice, BuilderKind};
use serde_json::Value;

const DOCKERFILE: &str = r#"# syntax=docker/dockerfile:1
ARG BASE=scratch
FROM ${BASE} AS assets
COPY static/ /static/

FROM scratch
ARG VERSION=dev
ENV APP_HOME=/srv/app \
    GREETING="hello world"
WORKDIR $APP_HOME
COPY --chown=1000:1001 --chmod=640 config.txt ./
COPY app/*.sh bin/
COPY --from=assets /static /srv/app/www
ADD bundle.tar.gz /opt/
LABEL version=${VERSION} "other"="x y"
EXPOSE 8080 9000-9001/udp
USER 1000
STOPSIGNAL SIGINT
HEALTHCHECK --interval=5s CMD ["/bin/check"]
ENTRYPOINT ["/srv/app/bin/run.sh"]
CMD ["--port", "8080"]
"#;

fn write_context(dir: &Path) {
    let files: &[(&str, &str)] = &[
        ("config.txt", "setting=1\n"),
        ("app/run.sh", "#!/bin/sh\necho run\n"),
        ("app/other.sh", "#!/bin/sh\n"),
        ("app/notes.md", "not copied\n"),
        ("static/index.html", "<h1>hi</h1>\n"),
        ("static/secret.key", "ignored\n"),
        ("static/keep.key", "kept by an exception\n"),
        (".dockerignore", "**/*.key\n!static/keep.key\n"),
        ("Dockerfile", DOCKERFILE),
    ];
    for (path, content) in files {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
    // A local tar.gz for ADD to extract.
    let mut tar = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(3);
    header.set_mode(0o755);
    header.set_uid(7);
    header.set_gid(8);
    tar.append_data(&mut header, "tool/bin", &b"abc"[..])
        .unwrap();
    let bytes = tar.into_inner().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &bytes).unwrap();
    std::fs::write(dir.join("bundle.tar.gz"), gz.finish().unwrap()).unwrap();
}

async fn build_into(context: &Path, out: &Path) -> hangar_build::BuiltImage {
    let mut request = BuildRequest::new(context, out);
    request.builder = BuilderChoice::Auto; // Docker may be there; force native below
    request.builder = BuilderChoice::Native;
    request.build_args = BTreeMap::from([("VERSION".to_owned(), "1.2.3".to_owned())]);
    request.labels = BTreeMap::from([("dev.hangar.release".to_owned(), "v7".to_owned())]);
    build(&request).await.expect("native build")
}

fn blob(layout: &Path, digest: &str) -> Vec<u8> {
    std::fs::read(
        layout
            .join("blobs/sha256")
            .join(digest.trim_start_matches("sha256:")),
    )
    .unwrap()
}

/// (path, mode, uid, gid, mtime, content) of every entry of every layer.
fn layer_entries(layout: &Path, manifest: &Value) -> Vec<(String, u32, u64, u64, u64, String)> {
    let mut out = Vec::new();
    for layer in manifest["layers"].as_array().unwrap() {
        let bytes = blob(layout, layer["digest"].as_str().unwrap());
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(&bytes[..]));
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            let h = entry.header().clone();
            let mut content = String::new();
            let _ = entry.read_to_string(&mut content);
            out.push((
                entry.path().unwrap().to_string_lossy().into_owned(),
                h.mode().unwrap(),
                h.uid().unwrap(),
                h.gid().unwrap(),
                h.mtime().unwrap(),
                content,
            ));
        }
    }
    out
}

#[tokio::test]
async fn builds_layers_and_config_as_the_dockerfile_says() {
    let dir = tempfile::tempdir().unwrap();
    let context = dir.path().join("ctx");
    write_context(&context);
    let image = build_into(&context, &dir.path().join("out")).await;
    assert_eq!(image.builder_used, BuilderKind::Native);
    let layout = &image.layout_dir;
    let manifest: Value = serde_json::from_slice(&blob(layout, &image.manifest_digest)).unwrap();
    let config: Value = serde_json::from_slice(&blob(
        layout,
        manifest["config"]["digest"].as_str().unwrap(),
    ))
    .unwrap();
    assert_eq!(config["created"], "1970-01-01T00:00:00Z");
    let c = &config["config"];
    assert_eq!(c["WorkingDir"], "/srv/app");
    assert_eq!(c["User"], "1000");
    assert_eq!(c["StopSignal"], "SIGINT");
    assert_eq!(c["Entrypoint"], serde_json::json!(["/srv/app/bin/run.sh"]));
    assert_eq!(c["Cmd"], serde_json::json!(["--port", "8080"]));
    assert_eq!(c["Labels"]["version"], "1.2.3");
    assert_eq!(c["Labels"]["other"], "x y");
    assert_eq!(c["Labels"]["dev.hangar.release"], "v7");
    assert!(c["Env"]
        .as_array()
        .unwrap()
        .contains(&"GREETING=hello world".into()));
    assert!(c["ExposedPorts"].get("9001/udp").is_some());
    assert_eq!(
        c["Healthcheck"]["Test"],
        serde_json::json!(["CMD", "/bin/check"])
    );
    assert_eq!(c["Healthcheck"]["Interval"], 5_000_000_000u64);

    let entries = layer_entries(layout, &manifest);
    let find = |p: &str| {
        entries
            .iter()
            .find(|e| e.0.trim_end_matches('/') == p)
            .unwrap_or_else(|| panic!("{p} missing from {entries:#?}"))
            .clone()
    };
    assert!(entries.iter().all(|e| e.4 == 0), "every mtime is 0");
    let config_txt = find("srv/app/config.txt");
    assert_eq!(
        (config_txt.1, config_txt.2, config_txt.3),
        (0o640, 1000, 1001)
    );
    assert_eq!(find("srv/app/bin/run.sh").5, "#!/bin/sh\necho run\n");
    find("srv/app/bin/other.sh");
    assert!(
        !entries.iter().any(|e| e.0.ends_with("notes.md")),
        "glob copies only *.sh"
    );
    find("srv/app/www/index.html");
    find("srv/app/www/keep.key");
    assert!(
        !entries.iter().any(|e| e.0.ends_with("secret.key")),
        ".dockerignore applies"
    );
    let tool = find("opt/tool/bin");
    assert_eq!(
        (tool.1, tool.2, tool.3, tool.5.as_str()),
        (0o755, 7, 8, "abc")
    );
    // WORKDIR, one layer per COPY/ADD.
    assert_eq!(manifest["layers"].as_array().unwrap().len(), 5);
}

#[tokio::test]
async fn the_same_input_gives_the_same_digest() {
    let dir = tempfile::tempdir().unwrap();
    let context = dir.path().join("ctx");
    write_context(&context);
    let first = build_into(&context, &dir.path().join("one")).await;
    // Touching files (new mtimes) changes nothing.
    std::fs::write(context.join("config.txt"), "setting=1\n").unwrap();
    let second = build_into(&context, &dir.path().join("two")).await;
    assert_eq!(first.manifest_digest, second.manifest_digest);
    // The second build into the same directory replaces it.
    let again = build_into(&context, &dir.path().join("one")).await;
    assert_eq!(first.manifest_digest, again.manifest_digest);

    std::fs::write(context.join("config.txt"), "setting=2\n").unwrap();
    let changed = build_into(&context, &dir.path().join("three")).await;
    assert_ne!(first.manifest_digest, changed.manifest_digest);

    // SOURCE_DATE_EPOCH moves the timestamps and so the digest.
    let mut request = BuildRequest::new(&context, dir.path().join("four"));
    request.builder = BuilderChoice::Native;
    request.build_args = BTreeMap::from([("VERSION".to_owned(), "1.2.3".to_owned())]);
    request.source_date_epoch = Some(1_700_000_000);
    let dated = build(&request).await.unwrap();
    assert_ne!(dated.manifest_digest, changed.manifest_digest);
    let manifest: Value =
        serde_json::from_slice(&blob(&dated.layout_dir, &dated.manifest_digest)).unwrap();
    let config: Value = serde_json::from_slice(&blob(
        &dated.layout_dir,
        manifest["config"]["digest"].as_str().unwrap(),
    ))
    .unwrap();
    assert_eq!(config["created"], "2023-11-14T22:13:20Z");
    assert!(layer_entries(&dated.layout_dir, &manifest)
        .iter()
        .all(|e| e.4 == 1_700_000_000));
}

#[tokio::test]
async fn the_layout_resolves_through_the_image_store() {
    let dir = tempfile::tempdir().unwrap();
    let context = dir.path().join("ctx");
    write_context(&context);
    let image = build_into(&context, &dir.path().join("out")).await;
    let store = hangar_image::ImageStore::open(&dir.path().join("store")).unwrap();
    let resolved = store
        .resolve(&image.reference())
        .await
        .expect("resolve the built image");
    assert_eq!(resolved.digest, image.manifest_digest);
    assert_eq!(resolved.config.working_dir.as_deref(), Some("/srv/app"));
    let top = resolved
        .layers
        .iter()
        .rev()
        .find(|l| l.join("opt/tool/bin").exists());
    assert!(top.is_some(), "ADDed archive unpacks");
}

#[tokio::test]
async fn from_an_image_reuses_its_files_config_and_users() {
    let dir = tempfile::tempdir().unwrap();
    // The base: a small image with users and a command.
    let base_context = dir.path().join("base");
    std::fs::create_dir_all(base_context.join("etc")).unwrap();
    std::fs::write(
        base_context.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\napp:x:1234:4321:app:/home/app:/bin/sh\n",
    )
    .unwrap();
    std::fs::write(base_context.join("etc/group"), "root:x:0:\nstaff:x:50:\n").unwrap();
    std::fs::write(
        base_context.join("Dockerfile"),
        "FROM scratch\nCOPY etc /etc\nENV BASE=yes\nCMD [\"/bin/base\"]\n",
    )
    .unwrap();
    let mut request = BuildRequest::new(&base_context, dir.path().join("base-image"));
    request.builder = BuilderChoice::Native;
    let base = build(&request).await.unwrap();

    let context = dir.path().join("app");
    std::fs::create_dir_all(&context).unwrap();
    std::fs::write(context.join("data.txt"), "data\n").unwrap();
    std::fs::write(
        context.join("Dockerfile"),
        format!(
            "ARG BASE_REF={}\nFROM $BASE_REF\nCOPY --chown=app:staff data.txt /home/app/\n",
            base.reference()
        ),
    )
    .unwrap();
    let mut request = BuildRequest::new(&context, dir.path().join("app-image"));
    request.builder = BuilderChoice::Native;
    request.image_store = Some(hangar_image::ImageStore::open(&dir.path().join("store")).unwrap());
    let image = build(&request).await.expect("build FROM an oci: image");
    let layout = &image.layout_dir;
    let manifest: Value = serde_json::from_slice(&blob(layout, &image.manifest_digest)).unwrap();
    let config: Value = serde_json::from_slice(&blob(
        layout,
        manifest["config"]["digest"].as_str().unwrap(),
    ))
    .unwrap();
    assert_eq!(config["config"]["Cmd"], serde_json::json!(["/bin/base"]));
    assert!(config["config"]["Env"]
        .as_array()
        .unwrap()
        .contains(&"BASE=yes".into()));
    let entries = layer_entries(layout, &manifest);
    let data = entries
        .iter()
        .find(|e| e.0 == "home/app/data.txt")
        .expect("copied file");
    assert_eq!(
        (data.2, data.3),
        (1234, 50),
        "names from the base's passwd/group"
    );
    assert!(
        entries.iter().any(|e| e.0 == "etc/passwd"),
        "base layers are included"
    );
}

/// Runs `tar` with `args` in `dir` (the system's tar, xz and bzip2 make the archives).
fn system_tar(dir: &Path, args: &[&str]) {
    let status = std::process::Command::new("tar")
        .current_dir(dir)
        .args(args)
        .status()
        .expect("run tar");
    assert!(status.success(), "tar {args:?}");
}

#[tokio::test]
async fn add_extracts_xz_bzip2_and_gzip_archives_like_docker() {
    let dir = tempfile::tempdir().unwrap();
    let context = dir.path().join("ctx");
    let payload = dir.path().join("payload");
    std::fs::create_dir_all(payload.join("share")).unwrap();
    std::fs::write(payload.join("share/data.txt"), "archived\n").unwrap();
    std::os::unix::fs::symlink("share/data.txt", payload.join("link")).unwrap();
    std::fs::create_dir_all(&context).unwrap();
    let payload_dir = payload.display().to_string();
    for (name, flag) in [
        ("a.tar.xz", "-cJf"),
        ("b.tar.bz2", "-cjf"),
        ("c.tgz", "-czf"),
    ] {
        let archive = context.join(name).display().to_string();
        system_tar(dir.path(), &[flag, &archive, "-C", &payload_dir, "."]);
    }
    // Named like an archive, but not one: copied as it is.
    std::fs::write(context.join("notes.tar.xz"), "just text\n").unwrap();
    std::fs::write(
        context.join("Dockerfile"),
        "FROM scratch\nADD a.tar.xz /xz/\nADD b.tar.bz2 /bz/\nADD c.tgz /gz/\nADD notes.tar.xz /raw/\nCMD [\"/x\"]\n",
    )
    .unwrap();
    let mut request = BuildRequest::new(&context, dir.path().join("out"));
    request.builder = BuilderChoice::Native;
    let image = build(&request).await.expect("native build");
    let store = hangar_image::ImageStore::open(&dir.path().join("store")).unwrap();
    let resolved = store.resolve(&image.reference()).await.expect("resolve");
    let find = |path: &str| {
        resolved
            .layers
            .iter()
            .rev()
            .map(|l| l.join(path))
            .find(|p| p.symlink_metadata().is_ok())
            .unwrap_or_else(|| panic!("{path} is in no layer"))
    };
    for root in ["xz", "bz", "gz"] {
        let data = find(&format!("{root}/share/data.txt"));
        assert_eq!(
            std::fs::read_to_string(data).unwrap(),
            "archived\n",
            "{root}"
        );
        let link = find(&format!("{root}/link"));
        assert_eq!(
            std::fs::read_link(link).unwrap(),
            Path::new("share/data.txt"),
            "{root}"
        );
    }
    assert_eq!(
        std::fs::read_to_string(find("raw/notes.tar.xz")).unwrap(),
        "just text\n"
    );
}
