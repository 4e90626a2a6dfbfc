//! Building a Machine's root inside its fresh mount namespace: overlay, pivot_root,
//! `/proc`, `/sys`, a minimal `/dev`, volumes, `/etc/hosts`, hostname.
//!
//! Everything after `pivot_root` resolves paths inside the new root, and volume
//! mount points (made before it) refuse symlinks, so an image cannot point
//! mounts or writes at the host.

use std::path::{Component, Path, PathBuf};

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::stat::{makedev, mknod, umask, Mode, SFlag};
use nix::unistd::{pivot_root, sethostname};

use crate::protocol::{GuestConfig, GuestMount};

/// A failed setup step and why.
#[derive(Debug, thiserror::Error)]
#[error("{step}: {detail}")]
pub(super) struct SetupError {
    step: String,
    detail: String,
}

fn fail(step: impl Into<String>) -> impl FnOnce(nix::Error) -> SetupError {
    let step = step.into();
    move |e| SetupError {
        step,
        detail: e.desc().to_owned(),
    }
}

fn fail_io(step: impl Into<String>) -> impl FnOnce(std::io::Error) -> SetupError {
    let step = step.into();
    move |e| SetupError {
        step,
        detail: e.to_string(),
    }
}

/// The most overlay mount data the kernel accepts in one page, with headroom.
const MAX_MOUNT_DATA: usize = 4000;

/// Sets up the Machine's root filesystem and identity; the process ends up inside it.
pub(super) fn build_root(config: &GuestConfig) -> Result<(), SetupError> {
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(fail("making the machine's mounts private"))?;
    mount_overlay(config)?;
    for volume in &config.mounts {
        bind_volume(&config.rootfs, volume)?;
    }

    std::env::set_current_dir(&config.rootfs).map_err(fail_io("entering the root filesystem"))?;
    pivot_root(".", ".").map_err(fail("pivot_root into the root filesystem"))?;
    umount2(".", MntFlags::MNT_DETACH).map_err(fail("detaching the host's root"))?;
    std::env::set_current_dir("/").map_err(fail_io("entering /"))?;

    mount_proc_and_sys()?;
    populate_dev()?;
    harden_proc()?;
    write_etc(config)?;
    sethostname(&config.hostname).map_err(fail("setting the hostname"))?;
    Ok(())
}

fn mount_overlay(config: &GuestConfig) -> Result<(), SetupError> {
    if config.layers.is_empty() {
        return Err(SetupError {
            step: "mounting the root filesystem".into(),
            detail: "the image has no layers".into(),
        });
    }
    for path in config
        .layers
        .iter()
        .chain([&config.upper_dir, &config.work_dir])
    {
        let text = path.to_string_lossy();
        if text.contains([':', ',']) {
            return Err(SetupError {
                step: "mounting the root filesystem".into(),
                detail: format!("overlayfs cannot use a path containing ':' or ',': {text}"),
            });
        }
    }
    // overlayfs lists the topmost lower layer first.
    let mut lowers: Vec<PathBuf> = config.layers.iter().rev().cloned().collect();
    let mut data = overlay_data(&lowers, config);
    if data.len() > MAX_MOUNT_DATA {
        // Shorten the layer paths by making them relative to their common parent.
        let common = common_ancestor(&lowers);
        std::env::set_current_dir(&common).map_err(fail_io("entering the layer directory"))?;
        lowers = lowers
            .iter()
            .map(|l| l.strip_prefix(&common).unwrap_or(l).to_path_buf())
            .collect();
        data = overlay_data(&lowers, config);
        if data.len() > MAX_MOUNT_DATA {
            return Err(SetupError {
                step: "mounting the root filesystem".into(),
                detail: format!(
                    "the image has too many layers ({}) for one overlay mount",
                    lowers.len()
                ),
            });
        }
    }
    mount(
        Some("overlay"),
        &config.rootfs,
        Some("overlay"),
        MsFlags::empty(),
        Some(data.as_str()),
    )
    .map_err(fail(format!(
        "mounting the overlay root at {}",
        config.rootfs.display()
    )))
}

fn overlay_data(lowers: &[PathBuf], config: &GuestConfig) -> String {
    let lower: Vec<String> = lowers
        .iter()
        .map(|l| l.to_string_lossy().into_owned())
        .collect();
    format!(
        "lowerdir={},upperdir={},workdir={}",
        lower.join(":"),
        config.upper_dir.display(),
        config.work_dir.display()
    )
}

fn common_ancestor(paths: &[PathBuf]) -> PathBuf {
    let mut common = paths
        .first()
        .and_then(|p| p.parent())
        .map(Path::to_path_buf)
        .unwrap_or_default();
    while !paths.iter().all(|p| p.starts_with(&common)) {
        if !common.pop() {
            break;
        }
    }
    common
}

/// Creates `guest_path` below `rootfs`, refusing to follow symlinks (an image
/// could otherwise point a mount point at the host's own directories).
fn mount_point_inside(rootfs: &Path, guest_path: &str) -> Result<PathBuf, SetupError> {
    let mut path = rootfs.to_path_buf();
    for component in Path::new(guest_path).components() {
        match component {
            Component::Normal(name) => path.push(name),
            Component::RootDir | Component::CurDir => continue,
            Component::ParentDir | Component::Prefix(_) => {
                return Err(SetupError {
                    step: format!("mounting a volume at {guest_path}"),
                    detail: "the path must not contain '..'".into(),
                })
            }
        }
        match path.symlink_metadata() {
            Ok(meta) if meta.file_type().is_symlink() => {
                return Err(SetupError {
                    step: format!("mounting a volume at {guest_path}"),
                    detail: format!("{} is a symlink in the image", path.display()),
                })
            }
            Ok(_) => {}
            Err(_) => std::fs::create_dir(&path)
                .map_err(fail_io(format!("creating mount point {guest_path}")))?,
        }
    }
    Ok(path)
}

fn bind_volume(rootfs: &Path, volume: &GuestMount) -> Result<(), SetupError> {
    let target = mount_point_inside(rootfs, &volume.guest_path)?;
    mount(
        Some(&volume.host_path),
        &target,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(fail(format!(
        "mounting volume {} at {}",
        volume.host_path.display(),
        volume.guest_path
    )))?;
    if volume.read_only {
        mount(
            None::<&str>,
            &target,
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY,
            None::<&str>,
        )
        .map_err(fail(format!(
            "making {} read-only at {}",
            volume.host_path.display(),
            volume.guest_path
        )))?;
    }
    Ok(())
}

fn mount_proc_and_sys() -> Result<(), SetupError> {
    let hardened = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    std::fs::create_dir_all("/proc").map_err(fail_io("creating /proc"))?;
    mount(Some("proc"), "/proc", Some("proc"), hardened, None::<&str>)
        .map_err(fail("mounting /proc"))?;
    std::fs::create_dir_all("/sys").map_err(fail_io("creating /sys"))?;
    mount(
        Some("sysfs"),
        "/sys",
        Some("sysfs"),
        hardened | MsFlags::MS_RDONLY,
        None::<&str>,
    )
    .map_err(fail("mounting /sys read-only"))
}

/// Kernel interfaces under /proc a Machine may read but not change.
const READ_ONLY_PROC: [&str; 5] = [
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];
/// Kernel interfaces under /proc a Machine must not see at all.
const MASKED_PROC: [&str; 7] = [
    "/proc/kcore",
    "/proc/keys",
    "/proc/timer_list",
    "/proc/sched_debug",
    "/proc/acpi",
    "/proc/scsi",
    "/proc/latency_stats",
];

/// Makes host-wide kernel knobs under /proc read-only and hides sensitive files.
fn harden_proc() -> Result<(), SetupError> {
    for path in READ_ONLY_PROC {
        if !Path::new(path).exists() {
            continue;
        }
        mount(
            Some(path),
            path,
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None::<&str>,
        )
        .map_err(fail(format!("binding {path}")))?;
        let flags = MsFlags::MS_BIND
            | MsFlags::MS_REMOUNT
            | MsFlags::MS_RDONLY
            | MsFlags::MS_NOSUID
            | MsFlags::MS_NODEV
            | MsFlags::MS_NOEXEC;
        mount(None::<&str>, path, None::<&str>, flags, None::<&str>)
            .map_err(fail(format!("making {path} read-only")))?;
    }
    for path in MASKED_PROC {
        let Ok(meta) = Path::new(path).metadata() else {
            continue;
        };
        let masked = if meta.is_dir() {
            mount(
                Some("tmpfs"),
                path,
                Some("tmpfs"),
                MsFlags::MS_RDONLY,
                None::<&str>,
            )
        } else {
            mount(
                Some("/dev/null"),
                path,
                None::<&str>,
                MsFlags::MS_BIND,
                None::<&str>,
            )
        };
        masked.map_err(fail(format!("masking {path}")))?;
    }
    Ok(())
}

/// Character devices every Machine gets: (name, major, minor).
const DEVICES: [(&str, u64, u64); 6] = [
    ("null", 1, 3),
    ("zero", 1, 5),
    ("full", 1, 7),
    ("random", 1, 8),
    ("urandom", 1, 9),
    ("tty", 5, 0),
];

fn populate_dev() -> Result<(), SetupError> {
    std::fs::create_dir_all("/dev").map_err(fail_io("creating /dev"))?;
    mount(
        Some("tmpfs"),
        "/dev",
        Some("tmpfs"),
        MsFlags::MS_NOSUID,
        Some("mode=755,size=65536k"),
    )
    .map_err(fail("mounting /dev"))?;
    let previous_umask = umask(Mode::empty());
    let result = (|| {
        for (name, major, minor) in DEVICES {
            let path = format!("/dev/{name}");
            mknod(
                path.as_str(),
                SFlag::S_IFCHR,
                Mode::from_bits_truncate(0o666),
                makedev(major, minor),
            )
            .map_err(fail(format!("creating {path}")))?;
        }
        std::fs::create_dir_all("/dev/pts").map_err(fail_io("creating /dev/pts"))?;
        mount(
            Some("devpts"),
            "/dev/pts",
            Some("devpts"),
            MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
            Some("newinstance,ptmxmode=0666,mode=0620"),
        )
        .map_err(fail("mounting /dev/pts"))?;
        std::fs::create_dir_all("/dev/shm").map_err(fail_io("creating /dev/shm"))?;
        mount(
            Some("shm"),
            "/dev/shm",
            Some("tmpfs"),
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
            Some("mode=1777"),
        )
        .map_err(fail("mounting /dev/shm"))?;
        for (link, target) in [
            ("/dev/ptmx", "pts/ptmx"),
            ("/dev/fd", "/proc/self/fd"),
            ("/dev/stdin", "/proc/self/fd/0"),
            ("/dev/stdout", "/proc/self/fd/1"),
            ("/dev/stderr", "/proc/self/fd/2"),
        ] {
            std::os::unix::fs::symlink(target, link).map_err(fail_io(format!("linking {link}")))?;
        }
        Ok(())
    })();
    umask(previous_umask);
    result
}

/// Replaces `path` with a regular file holding `contents` (never following a symlink).
fn replace_file(path: &str, contents: &str) -> Result<(), SetupError> {
    let _ = std::fs::remove_file(path);
    std::fs::write(path, contents).map_err(fail_io(format!("writing {path}")))
}

fn write_etc(config: &GuestConfig) -> Result<(), SetupError> {
    std::fs::create_dir_all("/etc").map_err(fail_io("creating /etc"))?;
    replace_file("/etc/hosts", &config.hosts)?;
    replace_file("/etc/hostname", &format!("{}\n", config.hostname))?;
    if let Some(resolv) = &config.resolv_conf {
        replace_file("/etc/resolv.conf", resolv)?;
    }
    Ok(())
}
