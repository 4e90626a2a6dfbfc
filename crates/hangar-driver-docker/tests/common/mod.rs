//! Shared setup of the Docker driver's tests: a busybox image and a driver.
#![allow(dead_code)]

use std::path::Path;

use hangar_driver::conformance::TestImage;
use hangar_driver::Driver;
use hangar_driver_docker::{DockerDriver, DockerDriverConfig};

pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub image: TestImage,
}

impl Drop for Fixture {
    /// Removes the image the driver loaded for this fixture (the conformance
    /// specs name it `conformance:latest`) with every tag it got, the pins of
    /// its Machines included, so test runs leave no images behind.
    fn drop(&mut self) {
        let tag = hangar_driver_docker::image_tag("conformance:latest", &self.image.layers);
        let Ok(inspected) = std::process::Command::new("docker")
            .args(["image", "inspect", "-f", "{{join .RepoTags \" \"}}", &tag])
            .output()
        else {
            return;
        };
        let tags = String::from_utf8_lossy(&inspected.stdout).into_owned();
        if inspected.status.success() {
            let _ = std::process::Command::new("docker")
                .arg("rmi")
                .args(tags.split_whitespace())
                .output();
        }
    }
}

impl Fixture {
    /// Moves the image's layer directories away until the guard drops: a
    /// start that has to load the image then fails.
    pub fn hide_layers(&self) -> HiddenLayers {
        let layers = self.dir.path().join("layers");
        let hidden = self.dir.path().join("layers.hidden");
        std::fs::rename(&layers, &hidden).expect("hide the layers");
        HiddenLayers { layers, hidden }
    }
}

/// Layers moved away by [`Fixture::hide_layers`].
pub struct HiddenLayers {
    layers: std::path::PathBuf,
    hidden: std::path::PathBuf,
}

impl Drop for HiddenLayers {
    fn drop(&mut self) {
        let _ = std::fs::rename(&self.hidden, &self.layers);
    }
}

/// A driver configuration with an owner of the test's own, so that the
/// images it loads (labelled with the owner) are the test's only.
pub fn config_for(test: &str) -> DockerDriverConfig {
    DockerDriverConfig {
        owner: format!("{test}-{}", std::process::id()),
        ..DockerDriverConfig::default()
    }
}

/// The suite's busybox image in a temporary directory.
pub fn busybox_image() -> Fixture {
    let dir = tempfile::Builder::new()
        .prefix("hangar-docker-test-")
        .tempdir()
        .unwrap();
    let image = TestImage::busybox(dir.path());
    Fixture { dir, image }
}

impl AsRef<TestImage> for Fixture {
    fn as_ref(&self) -> &TestImage {
        &self.image
    }
}

/// The driver and its test image, or `None` (after a loud message) when this host cannot run them.
pub async fn setup(test: &str) -> Option<(DockerDriver, Fixture)> {
    if !Path::new("/bin/busybox").exists() {
        eprintln!("!!! SKIPPED {test}: /bin/busybox is missing (apt-get install busybox-static)");
        return None;
    }
    match DockerDriver::connect(config_for(test)).await {
        Ok(driver) => {
            assert!(driver.isolation().is_isolated(), "containers are isolated");
            Some((driver, busybox_image()))
        }
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
