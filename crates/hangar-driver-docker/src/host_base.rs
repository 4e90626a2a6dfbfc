//! `FROM host` images (built by `hangar-build`'s native builder): their base
//! layer carries the marker file [`HOST_BASE_MARKER`] and mount points for
//! the host's system directories, which the Machine is given read-only, as
//! the process driver does. The daemon is reached over its local socket, so
//! its host is this host. For trusted hosts and development only: the
//! container sees the host's programs and libraries (never writes them).
//!
//! Docker's init cannot be mounted at `/sbin/docker-init` when `/sbin` leads
//! into the read-only host `/usr`, so such a container runs the host's own
//! `docker-init` (tini, under `/usr`) as its PID 1 instead; a host without
//! one cannot run `FROM host` images with this driver, and the start says so.

use std::path::{Path, PathBuf};

use hangar_driver::{DriverError, MachineSpec};

/// The marker file at the root of a `FROM host` image's base layer.
const HOST_BASE_MARKER: &str = ".hangar-host-base";

/// Host directories a `FROM host` image is given, read-only.
const HOST_SYSTEM_DIRS: &[&str] = &["usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32"];

/// Where Docker packages install its init (tini), all under the bound `/usr`.
const HOST_INIT_CANDIDATES: &[&str] = &[
    "/usr/bin/docker-init",
    "/usr/sbin/docker-init",
    "/usr/libexec/docker/docker-init",
    "/usr/local/bin/docker-init",
];

/// What a `FROM host` Machine's container gets.
pub(crate) struct HostBase {
    /// Read-only binds (`/usr:/usr:ro`, …).
    pub binds: Vec<String>,
    /// The host's Docker init, run as PID 1 in place of Docker's own.
    init: PathBuf,
}

impl HostBase {
    /// The argv run by the host's init: `docker-init -- <argv>`.
    pub fn wrap(&self, argv: &[String]) -> Vec<String> {
        let mut wrapped = vec![self.init.display().to_string(), "--".to_owned()];
        wrapped.extend(argv.iter().cloned());
        wrapped
    }
}

/// `None` for an ordinary image; for a `FROM host` image, the binds of each
/// system directory that is a real directory on the host and not a symlink
/// in the image (merged-`/usr` images need only `/usr`), and the init.
pub(crate) fn of(spec: &MachineSpec) -> Result<Option<HostBase>, DriverError> {
    let layers = &spec.layers;
    if !layers.iter().any(|l| l.join(HOST_BASE_MARKER).is_file()) {
        return Ok(None);
    }
    let init = HOST_INIT_CANDIDATES
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .ok_or_else(|| {
            DriverError::InvalidSpec(format!(
                "machine {} runs a FROM host image, which needs Docker's init (docker-init) under \
                 this host's /usr, and there is none: install Docker's tini, or run FROM host \
                 images with the process driver (--driver process)",
                spec.machine_id
            ))
        })?;
    let binds = HOST_SYSTEM_DIRS
        .iter()
        .filter(|dir| {
            let real_dir_on_host =
                std::fs::symlink_metadata(Path::new("/").join(dir)).is_ok_and(|m| m.is_dir());
            let in_image = layers
                .iter()
                .rev()
                .find_map(|l| std::fs::symlink_metadata(l.join(dir)).ok());
            real_dir_on_host && in_image.is_none_or(|m| m.is_dir())
        })
        .map(|dir| format!("/{dir}:/{dir}:ro"))
        .collect();
    Ok(Some(HostBase { binds, init }))
}
