//! Test images built from files the test writes: a static busybox (Debian's
//! busybox-static) with its applets, in an OCI image layout.

use std::path::{Path, PathBuf};

use hangar_image::ImageConfig;

/// The static busybox binary, if installed.
pub fn busybox_path() -> Option<PathBuf> {
    ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
}

/// A built busybox image.
pub struct BusyboxImage {
    /// `oci:DIR:TAG`.
    pub reference: String,
    pub layout: PathBuf,
}

const APPLETS: &[&str] = &[
    "sh", "ash", "httpd", "sleep", "cat", "echo", "ls", "ps", "hostname", "id", "head", "tail",
    "dd", "yes", "wc", "grep", "sed", "mkdir", "rm", "touch", "env", "kill", "nc", "wget", "seq",
    "true", "false", "test", "date", "printf", "mount", "df", "top", "awk", "sync", "stat", "stty",
    "tty",
];

/// Builds a busybox image into `dir` whose default command is `cmd`, plus
/// the extra files given (path inside the image, content, mode). Returns
/// `None` and prints a loud skip notice when busybox-static is missing.
pub fn busybox_image(
    dir: &Path,
    cmd: &[&str],
    files: &[(&str, &str, u32)],
) -> Option<BusyboxImage> {
    let Some(busybox) = busybox_path() else {
        eprintln!("SKIPPED: /bin/busybox not found; install Debian's busybox-static (apt-get install busybox-static)");
        return None;
    };
    let rootfs = dir.join("rootfs");
    let _ = std::fs::remove_dir_all(&rootfs);
    for d in ["bin", "etc", "tmp", "data", "www", "proc", "sys", "dev"] {
        std::fs::create_dir_all(rootfs.join(d)).expect("rootfs dir");
    }
    std::fs::copy(&busybox, rootfs.join("bin/busybox")).expect("copy busybox");
    for applet in APPLETS {
        std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(applet))
            .expect("applet symlink");
    }
    std::fs::write(
        rootfs.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n",
    )
    .unwrap();
    std::fs::write(rootfs.join("etc/group"), "root:x:0:\nnogroup:x:65534:\n").unwrap();
    for (path, content, mode) in files {
        let target = rootfs.join(path.trim_start_matches('/'));
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::write(&target, content).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(*mode)).unwrap();
    }
    let config = ImageConfig {
        env: vec!["PATH=/bin".into()],
        cmd: cmd.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    };
    let layout = dir.join("layout");
    hangar_image::layout::write_oci_layout(&layout, &rootfs, &config, "test")
        .expect("write test image");
    Some(BusyboxImage {
        reference: format!("oci:{}:test", layout.display()),
        layout,
    })
}
