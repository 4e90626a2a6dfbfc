//! The driver conformance suite against the Docker driver, on this host's
//! Docker Engine. Without a reachable daemon (or without busybox to build the
//! test image from) every test prints SKIPPED and passes.

use std::path::Path;

use hangar_driver::conformance::{self, TestImage};
use hangar_driver::Driver;
use hangar_driver_docker::{DockerDriver, DockerDriverConfig};

/// Busybox applets the test image links.
const APPLETS: &[&str] = &[
    "sh", "sleep", "cat", "echo", "id", "pwd", "hostname", "httpd", "ls", "ps", "true", "false",
    "env", "kill", "test", "seq", "head",
];

struct Fixture {
    _dir: tempfile::TempDir,
    image: TestImage,
}

fn write(path: &Path, contents: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, contents).unwrap();
}

/// Two layers: busybox with /etc and /tmp, then a file on top.
fn busybox_image() -> Fixture {
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
        _dir: dir,
        image: TestImage {
            layers: vec![base, web],
        },
    }
}

/// The driver and its test image, or `None` (after a loud message) when this host cannot run them.
async fn setup(test: &str) -> Option<(DockerDriver, Fixture)> {
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

macro_rules! conformance_tests {
    ($($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let Some((driver, fixture)) = setup(stringify!($name)).await else {
                    return;
                };
                assert!(driver.isolation().is_isolated(), "containers are isolated");
                conformance::$name(&driver, &fixture.image).await;
            }
        )*
    };
}

conformance_tests!(
    check_output_and_exit_code,
    check_signal_trap,
    check_signal_terminates,
    check_kill,
    check_freeze_thaw,
    check_exec,
    check_exec_timeout,
    check_ps,
    check_env_workdir_user,
    check_hostname_is_machine_id,
    check_volume_mount,
    check_missing_program,
    check_cleanup_leaves_nothing,
    check_recover_kills_survivors,
);
