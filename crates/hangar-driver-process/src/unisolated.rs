//! Unisolated Machines: plain host processes, for hosts where isolation is impossible.
//!
//! The image's layers are merged into a copied directory that becomes the
//! working directory; programs given by absolute path are looked up there
//! first. Nothing stops such a Machine from seeing or touching the host: the
//! driver reports `Isolation::None` so that the agent says so loudly.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use hangar_driver::{
    DriverError, ExecOutput, ExecRequest, ExitInfo, MachineSpec, StartedTask, TaskHandle,
};
use tokio::process::Command;

use crate::cgroup::MachineCgroups;
use crate::driver::ProcessDriver;
use crate::handle::{start_ticks, write_task_file, HandleData, RunMode};
use crate::isolated::run_exec;

const WHITEOUT_PREFIX: &str = ".wh.";
const OPAQUE_MARKER: &str = ".wh..wh..opq";

/// Copies `layers` (bottom first) into `target`, applying OCI and overlay whiteouts.
pub(crate) fn merge_layers(layers: &[PathBuf], target: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(target)?;
    for layer in layers {
        merge_dir(layer, target)?;
    }
    Ok(())
}

fn remove_any(path: &Path) {
    match path.symlink_metadata() {
        Ok(meta) if meta.is_dir() => {
            let _ = std::fs::remove_dir_all(path);
        }
        Ok(_) => {
            let _ = std::fs::remove_file(path);
        }
        Err(_) => {}
    }
}

fn merge_dir(source: &Path, target: &Path) -> std::io::Result<()> {
    if source.join(OPAQUE_MARKER).exists() {
        for entry in std::fs::read_dir(target)? {
            remove_any(&entry?.path());
        }
    }
    for entry in std::fs::read_dir(source)? {
        let entry = entry?;
        let name = entry.file_name();
        let name_text = name.to_string_lossy();
        if name_text == OPAQUE_MARKER {
            continue;
        }
        if let Some(hidden) = name_text.strip_prefix(WHITEOUT_PREFIX) {
            remove_any(&target.join(hidden));
            continue;
        }
        let from = entry.path();
        let to = target.join(&name);
        let meta = from.symlink_metadata()?;
        let kind = meta.file_type();
        if kind.is_char_device() && meta.rdev() == 0 {
            remove_any(&to); // overlayfs-style whiteout
        } else if kind.is_dir() {
            if to.symlink_metadata().map(|m| !m.is_dir()).unwrap_or(false) {
                remove_any(&to);
            }
            std::fs::create_dir_all(&to)?;
            std::fs::set_permissions(&to, meta.permissions())?;
            merge_dir(&from, &to)?;
        } else if kind.is_symlink() {
            remove_any(&to);
            std::os::unix::fs::symlink(std::fs::read_link(&from)?, &to)?;
        } else if kind.is_file() {
            remove_any(&to);
            std::fs::copy(&from, &to)?;
        }
        // Device nodes, sockets and FIFOs cannot be recreated without privileges; skip them.
    }
    Ok(())
}

/// The program to run: `argv[0]` inside the merged root when it exists there.
fn host_program(rootfs: &Path, program: &str, env: &[(String, String)]) -> PathBuf {
    if program.starts_with('/') {
        let inside = rootfs.join(program.trim_start_matches('/'));
        return if inside.exists() {
            inside
        } else {
            PathBuf::from(program)
        };
    }
    if !program.contains('/') {
        let path = env
            .iter()
            .find(|(k, _)| k == "PATH")
            .map_or("/usr/local/bin:/usr/bin:/bin", |(_, v)| v);
        for dir in path.split(':') {
            let inside = rootfs.join(dir.trim_start_matches('/')).join(program);
            if inside.is_file() {
                return inside;
            }
        }
    }
    PathBuf::from(program)
}

pub(crate) fn unisolated_command(
    rootfs: &Path,
    argv: &[String],
    env: &[(String, String)],
    workdir: &Path,
) -> Command {
    let mut command = Command::new(host_program(rootfs, &argv[0], env));
    command
        .args(&argv[1..])
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .current_dir(workdir);
    // SAFETY: setsid is a plain system call, safe between fork and exec.
    unsafe {
        command.pre_exec(|| {
            nix::unistd::setsid()
                .map(|_| ())
                .map_err(std::io::Error::from)
        });
    }
    command
}

impl ProcessDriver {
    pub(crate) async fn start_unisolated(
        &self,
        spec: &MachineSpec,
        task_dir: PathBuf,
    ) -> Result<StartedTask, DriverError> {
        let rootfs = task_dir.join("rootfs");
        let (layers, target) = (spec.layers.clone(), rootfs.clone());
        tokio::task::spawn_blocking(move || merge_layers(&layers, &target))
            .await
            .map_err(|e| DriverError::HostSetup(format!("merging layers failed: {e}")))?
            .map_err(|e| DriverError::io("copying the image's layers", &rootfs, e))?;
        let workdir = rootfs.join(
            spec.process
                .workdir
                .as_deref()
                .unwrap_or("/")
                .trim_start_matches('/'),
        );
        std::fs::create_dir_all(&workdir)
            .map_err(|e| DriverError::io("creating working directory", &workdir, e))?;
        let mut command =
            unisolated_command(&rootfs, &spec.process.argv, &spec.process.env, &workdir);
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().map_err(|e| DriverError::StartFailed {
            machine_id: spec.machine_id.clone(),
            reason: format!("running {:?}: {e}", spec.process.argv[0]),
        })?;
        let pid = child.id().unwrap_or(0);
        let data = HandleData {
            mode: RunMode::Unisolated,
            instance_id: spec.instance_id.clone(),
            task_dir,
            cgroups: MachineCgroups::default(),
            veth: None,
            start_ticks: start_ticks(pid).unwrap_or(0),
        };
        let task_dir = data.task_dir.clone();
        let handle = data.into_handle(&spec.machine_id, pid);
        if let Err(e) = write_task_file(&handle, &task_dir) {
            let _ = child.start_kill();
            let _ = child.wait().await;
            return Err(e);
        }
        let stdout = child.stdout.take().expect("stdout is piped");
        let stderr = child.stderr.take().expect("stderr is piped");
        Ok(StartedTask {
            handle,
            stdout: Box::pin(stdout),
            stderr: Box::pin(stderr),
            exit: Box::pin(async move {
                let status = child.wait().await;
                let (exit_code, signal) = match status {
                    Ok(s) => (s.code(), s.signal()),
                    Err(_) => (None, None),
                };
                ExitInfo {
                    exit_code,
                    signal,
                    oom_killed: false,
                }
            }),
        })
    }

    pub(crate) async fn exec_unisolated(
        &self,
        handle: &TaskHandle,
        data: &HandleData,
        req: ExecRequest,
    ) -> Result<ExecOutput, DriverError> {
        crate::handle::ensure_running(handle, data)?;
        if req.argv.is_empty() {
            return Err(DriverError::ExecFailed {
                machine_id: handle.machine_id.clone(),
                reason: "empty command".into(),
            });
        }
        let rootfs = data.task_dir.join("rootfs");
        let command = unisolated_command(&rootfs, &req.argv, &req.env, &rootfs);
        let machine_id = handle.machine_id.clone();
        match run_exec(command, &machine_id, req).await {
            Err(DriverError::ExecFailed { reason, .. }) if reason.contains("No such file") => {
                Ok(ExecOutput {
                    exit_code: 127,
                    stdout: Vec::new(),
                    stderr: reason.into_bytes(),
                })
            }
            other => other,
        }
    }
}
