//! Volumes on this host's disk. Running as root, each volume is a sparse
//! ext4 image mounted through a loop device, so its size limit is enforced
//! by the filesystem itself; without root it is a plain directory and the
//! limit is not enforced (said loudly at start).

use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::process::Command;

/// Errors of volume storage.
#[derive(Debug, thiserror::Error)]
pub enum VolumeError {
    #[error("volume {0} has no storage on this host")]
    Missing(String),
    #[error("volumes can only grow: {volume} is {current_gb} GB, asked for {requested_gb} GB")]
    Shrink {
        volume: String,
        current_gb: i64,
        requested_gb: i64,
    },
    #[error("`{command}` failed: {detail}")]
    Command { command: String, detail: String },
    #[error("volume storage I/O at {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> VolumeError + '_ {
    move |source| VolumeError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// How volumes are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VolumeBacking {
    /// ext4 image on a loop device: sizes enforced.
    LoopExt4,
    /// Plain directory: sizes NOT enforced.
    Directory,
}

/// The volume storage of this host.
#[derive(Debug, Clone)]
pub struct VolumeStorage {
    dir: PathBuf,
    backing: VolumeBacking,
}

async fn run(program: &str, args: &[&str]) -> Result<String, VolumeError> {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|e| VolumeError::Command {
            command: format!("{program} {}", args.join(" ")),
            detail: e.to_string(),
        })?;
    if !out.status.success() {
        return Err(VolumeError::Command {
            command: format!("{program} {}", args.join(" ")),
            detail: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

fn have(program: &str) -> bool {
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|p| p.join(program).is_file()))
        .unwrap_or(false)
}

impl VolumeStorage {
    /// Opens volume storage under `dir`, choosing the backing this host allows.
    pub fn open(dir: &Path) -> Result<Self, VolumeError> {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let backing = if is_root()
            && Path::new("/dev/loop-control").exists()
            && have("mkfs.ext4")
            && have("resize2fs")
        {
            VolumeBacking::LoopExt4
        } else {
            VolumeBacking::Directory
        };
        Ok(VolumeStorage {
            dir: dir.to_path_buf(),
            backing,
        })
    }

    pub fn backing(&self) -> VolumeBacking {
        self.backing
    }

    fn image(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.ext4"))
    }

    /// Where the volume's filesystem is mounted on the host.
    pub fn mountpoint(&self, id: &str) -> PathBuf {
        self.dir.join(id)
    }

    /// Creates the storage of a new volume.
    pub async fn create(&self, id: &str, size_gb: i64) -> Result<(), VolumeError> {
        let mnt = self.mountpoint(id);
        std::fs::create_dir_all(&mnt).map_err(io(&mnt))?;
        if self.backing == VolumeBacking::Directory {
            return Ok(());
        }
        let image = self.image(id);
        let file = std::fs::File::create(&image).map_err(io(&image))?;
        file.set_len(size_gb as u64 * 1024 * 1024 * 1024)
            .map_err(io(&image))?;
        drop(file);
        let path = image.to_string_lossy().to_string();
        if let Err(err) = run(
            "mkfs.ext4",
            &[
                "-q",
                "-F",
                "-E",
                "lazy_itable_init=1,lazy_journal_init=1",
                "-m",
                "0",
                &path,
            ],
        )
        .await
        {
            let _ = std::fs::remove_file(&image);
            return Err(err);
        }
        Ok(())
    }

    /// Mounts the volume (idempotent) and returns its host path.
    pub async fn attach(&self, id: &str) -> Result<PathBuf, VolumeError> {
        let mnt = self.mountpoint(id);
        if self.backing == VolumeBacking::Directory {
            std::fs::create_dir_all(&mnt).map_err(io(&mnt))?;
            return Ok(mnt);
        }
        let image = self.image(id);
        if !image.exists() {
            return Err(VolumeError::Missing(id.to_string()));
        }
        if !is_mounted(&mnt) {
            if self.resize_marker(id).exists() {
                self.grow_offline(id).await?;
            }
            std::fs::create_dir_all(&mnt).map_err(io(&mnt))?;
            run(
                "mount",
                &[
                    "-o",
                    "loop",
                    &image.to_string_lossy(),
                    &mnt.to_string_lossy(),
                ],
            )
            .await?;
        }
        Ok(mnt)
    }

    /// Unmounts the volume if mounted.
    pub async fn detach(&self, id: &str) -> Result<(), VolumeError> {
        let mnt = self.mountpoint(id);
        if self.backing == VolumeBacking::LoopExt4 && is_mounted(&mnt) {
            run("umount", &["-d", &mnt.to_string_lossy()]).await?;
        }
        Ok(())
    }

    fn resize_marker(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.resize-pending"))
    }

    /// Grows the volume to `size_gb`; answers whether a running Machine
    /// must restart to see the new size. A mounted filesystem is grown
    /// online where the host allows it (CAP_SYS_RESOURCE); otherwise the
    /// growth is applied the next time the volume is mounted.
    pub async fn extend(&self, id: &str, size_gb: i64) -> Result<bool, VolumeError> {
        if self.backing == VolumeBacking::Directory {
            return Ok(false);
        }
        let image = self.image(id);
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(&image)
            .map_err(io(&image))?;
        file.set_len(size_gb as u64 * 1024 * 1024 * 1024)
            .map_err(io(&image))?;
        drop(file);
        let mnt = self.mountpoint(id);
        if is_mounted(&mnt) {
            let device =
                loop_device_of(&mnt).ok_or_else(|| VolumeError::Missing(id.to_string()))?;
            run("losetup", &["-c", &device]).await?;
            if run("resize2fs", &[&device]).await.is_ok() {
                return Ok(false);
            }
            let marker = self.resize_marker(id);
            std::fs::write(&marker, b"").map_err(io(&marker))?;
            return Ok(true);
        }
        self.grow_offline(id).await?;
        Ok(false)
    }

    async fn grow_offline(&self, id: &str) -> Result<(), VolumeError> {
        let image = self.image(id).to_string_lossy().to_string();
        // resize2fs insists on a freshly checked filesystem.
        let _ = run("e2fsck", &["-f", "-p", &image]).await;
        run("resize2fs", &[&image]).await?;
        let _ = std::fs::remove_file(self.resize_marker(id));
        Ok(())
    }

    fn snapshot_file(&self, snapshot_id: &str) -> PathBuf {
        self.dir
            .join("snapshots")
            .join(format!("{snapshot_id}.tar"))
    }

    /// Copies the volume's files into a snapshot archive; returns its size
    /// in bytes and its sha256 digest.
    pub async fn snapshot(
        &self,
        id: &str,
        snapshot_id: &str,
    ) -> Result<(u64, String), VolumeError> {
        let snaps = self.dir.join("snapshots");
        std::fs::create_dir_all(&snaps).map_err(io(&snaps))?;
        let target = self.snapshot_file(snapshot_id);
        let source = self.attach(id).await?;
        run(
            "tar",
            &[
                "-C",
                &source.to_string_lossy(),
                "-cf",
                &target.to_string_lossy(),
                ".",
            ],
        )
        .await?;
        let bytes = std::fs::read(&target).map_err(io(&target))?;
        use sha2::Digest;
        let digest = format!("sha256:{}", hex::encode(sha2::Sha256::digest(&bytes)));
        Ok((bytes.len() as u64, digest))
    }

    /// Fills a new volume from a snapshot.
    pub async fn restore(&self, id: &str, snapshot_id: &str) -> Result<(), VolumeError> {
        let archive = self.snapshot_file(snapshot_id);
        if !archive.exists() {
            return Err(VolumeError::Missing(snapshot_id.to_string()));
        }
        let target = self.attach(id).await?;
        run(
            "tar",
            &[
                "-C",
                &target.to_string_lossy(),
                "-xf",
                &archive.to_string_lossy(),
            ],
        )
        .await?;
        Ok(())
    }

    /// Fills a new volume with a copy of another (a fork).
    pub async fn copy_from(&self, source_id: &str, id: &str) -> Result<(), VolumeError> {
        let source = self.attach(source_id).await?;
        let target = self.attach(id).await?;
        run(
            "cp",
            &[
                "-a",
                &format!("{}/.", source.to_string_lossy()),
                &target.to_string_lossy(),
            ],
        )
        .await?;
        Ok(())
    }

    /// Deletes the volume's storage (it must be detached).
    pub async fn delete(&self, id: &str) -> Result<(), VolumeError> {
        self.detach(id).await?;
        let mnt = self.mountpoint(id);
        let _ = std::fs::remove_dir_all(&mnt);
        let _ = std::fs::remove_file(self.image(id));
        Ok(())
    }
}

fn is_mounted(path: &Path) -> bool {
    let Ok(mounts) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return false;
    };
    let target = path.to_string_lossy();
    mounts
        .lines()
        .any(|l| l.split_whitespace().nth(4) == Some(target.as_ref()))
}

fn loop_device_of(path: &Path) -> Option<String> {
    let mounts = std::fs::read_to_string("/proc/self/mounts").ok()?;
    let target = path.to_string_lossy();
    mounts.lines().find_map(|l| {
        let mut parts = l.split_whitespace();
        let dev = parts.next()?;
        (parts.next()? == target.as_ref()).then(|| dev.to_string())
    })
}
