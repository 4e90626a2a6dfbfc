//! The suite's test image, built from the host's busybox.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::TestImage;

/// Busybox applets the image links into /bin.
const APPLETS: &[&str] = &[
    "sh", "sleep", "cat", "echo", "id", "pwd", "hostname", "httpd", "ls", "ps", "nc", "printf",
    "ip", "netstat", "seq", "awk", "head", "tail", "grep", "find", "wc", "true", "false", "mkdir",
    "touch", "env", "dd", "tr", "yes", "kill", "test", "stty", "tty",
];

/// What the image's web root (`/www/index.html`) says.
const WEB_PAGE: &str = "hello from a hangar machine\n";

impl TestImage {
    /// Two layers under `dir` (exercising layer stacking): /bin/busybox
    /// with its applets, /etc/passwd and /etc/group (root, nobody) and /tmp;
    /// then /www/index.html ([`WEB_PAGE`]). Panics (a test fixture) if the
    /// host has no /bin/busybox or `dir` cannot be written.
    pub fn busybox(dir: &Path) -> TestImage {
        let base = dir.join("layers/base");
        std::fs::create_dir_all(base.join("bin")).unwrap();
        std::fs::copy("/bin/busybox", base.join("bin/busybox")).expect("/bin/busybox");
        for applet in APPLETS {
            std::os::unix::fs::symlink("busybox", base.join("bin").join(applet)).unwrap();
        }
        write(
            &base.join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
        );
        write(&base.join("etc/group"), "root:x:0:\nnogroup:x:65534:\n");
        std::fs::create_dir_all(base.join("tmp")).unwrap();
        std::fs::set_permissions(base.join("tmp"), std::fs::Permissions::from_mode(0o1777))
            .unwrap();
        let web = dir.join("layers/web");
        write(&web.join("www/index.html"), WEB_PAGE);
        TestImage {
            layers: vec![base, web],
        }
    }
}

fn write(path: &Path, contents: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, contents).unwrap();
}
