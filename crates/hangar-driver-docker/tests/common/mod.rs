//! Shared setup of the Docker driver's tests: a busybox image and a driver.
#![allow(dead_code)]

use std::path::Path;

use hangar_driver::conformance::TestImage;
use hangar_driver_docker::{DockerDriver, DockerDriverConfig};

/// Busybox applets the test image links.
const APPLETS: &[&str] = &[
    "sh", "sleep", "cat", "echo", "id", "pwd", "hostname", "httpd", "ls", "ps", "true", "false",
    "env", "kill", "test", "seq", "head", "awk", "ip", "wc", "stty", "tty",
];

pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub image: TestImage,
}

impl Drop for Fixture {
    /// Untags the image the driver loaded for this fixture (the conformance
    /// specs name it `conformance:latest`), so test runs leave no tags behind.
    fn drop(&mut self) {
        let tag = hangar_driver_docker::image_tag("conformance:latest", &self.image.layers);
        let _ = std::process::Command::new("docker")
            .args(["rmi", &tag])
            .output();
    }
}

fn write(path: &Path, contents: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, contents).unwrap();
}

/// Two layers: busybox with /etc and /tmp, then a file on top.
pub fn busybox_image() -> Fixture {
    let dir = tempfile::Builder::new()
        .prefix("hangar-docker-test-")
        .tempdir()
        .unwrap();
    let base = dir.path().join("layers/base");
    std::fs::create_dir_all(base.join("bin")).unwrap();
    std::fs::copy("/bin/busybox", base.join("bin/busybox")).unwrap();
    for applet in APPLETS {
        std::os::unix::fs::symlink("busybox", base.join("bin").join(applet)).unwrap();
    }
    write(
        &base.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
    );
    write(&base.join("etc/group"), "root:x:0:\nnogroup:x:65534:\n");
    std::fs::create_dir_all(base.join("tmp")).unwrap();
    std::fs::set_permissions(
        base.join("tmp"),
        std::os::unix::fs::PermissionsExt::from_mode(0o1777),
    )
    .unwrap();
    let web = dir.path().join("layers/web");
    write(
        &web.join("www/index.html"),
        "hello from a hangar container\n",
    );
    Fixture {
        dir,
        image: TestImage {
            layers: vec![base, web],
        },
    }
}

/// The driver and its test image, or `None` (after a loud message) when this host cannot run them.
pub async fn setup(test: &str) -> Option<(DockerDriver, Fixture)> {
    if !Path::new("/bin/busybox").exists() {
        eprintln!("!!! SKIPPED {test}: /bin/busybox is missing (apt-get install busybox-static)");
        return None;
    }
    match DockerDriver::connect(DockerDriverConfig::default()).await {
        Ok(driver) => Some((driver, busybox_image())),
        Err(error) => {
            eprintln!("!!! SKIPPED {test}: {error}");
            None
        }
    }
}

/// Force-removes the Machine's container if the test panics, so a failed test
/// leaves nothing running (a passing test cleans up through the driver).
pub struct RemoveOnPanic(pub String);

impl Drop for RemoveOnPanic {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let _ = std::process::Command::new("docker")
                .args(["rm", "-f", &format!("hangar-{}", self.0)])
                .output();
        }
    }
}
