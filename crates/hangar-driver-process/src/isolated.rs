//! Isolated Machines: starting `hangar-machine-init` in new namespaces and exec'ing into them.

use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use hangar_driver::{
    DriverError, ExecOutput, ExecRequest, ExitInfo, MachineSpec, StartedTask, TaskHandle,
};
use nix::fcntl::OFlag;
use nix::sched::{unshare, CloneFlags};
use nix::unistd::pipe2;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;

use crate::cgroup::MachineCgroups;
use crate::driver::ProcessDriver;
use crate::handle::{ensure_running, start_ticks, write_task_file, HandleData, RunMode};
use crate::network;
use crate::probe::BASE_NAMESPACES;
use crate::protocol::{self, ExecConfig, GuestConfig, GuestMount, Workload};

/// How long the init may take to build the root and exec the workload.
const SETUP_TIMEOUT: Duration = Duration::from_secs(30);
/// How long an exec helper gets to kill its command after a timeout.
const EXEC_KILL_GRACE: Duration = Duration::from_secs(2);

fn hosts_file(spec: &MachineSpec) -> String {
    let mut hosts =
        String::from("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n");
    match &spec.network {
        Some(net) => {
            hosts.push_str(&format!(
                "{}\t{}\n{}\t{}\n",
                net.ipv4, spec.machine_id, net.ipv6, spec.machine_id
            ));
        }
        None => hosts.push_str(&format!("127.0.1.1\t{}\n", spec.machine_id)),
    }
    for (name, ip) in &spec.extra_hosts {
        hosts.push_str(&format!("{ip}\t{name}\n"));
    }
    hosts
}

fn guest_config(spec: &MachineSpec, task_dir: &Path) -> GuestConfig {
    GuestConfig {
        hostname: spec.machine_id.clone(),
        layers: spec.layers.clone(),
        upper_dir: task_dir.join("upper"),
        work_dir: task_dir.join("work"),
        rootfs: task_dir.join("rootfs"),
        mounts: host_base_mounts(&spec.layers)
            .into_iter()
            .chain(spec.mounts.iter().map(|m| GuestMount {
                host_path: m.host_path.clone(),
                guest_path: m.guest_path.clone(),
                read_only: false,
            }))
            .collect(),
        hosts: hosts_file(spec),
        resolv_conf: std::fs::read_to_string("/etc/resolv.conf").ok(),
        workload: Workload {
            argv: spec.process.argv.clone(),
            env: spec.process.env.clone(),
            user: spec.process.user.clone(),
            workdir: spec.process.workdir.clone(),
        },
    }
}

/// File at the root of an image layer that marks a `FROM host` image
/// (written by `hangar-build`): the Machine gets the host's system directories.
const HOST_BASE_MARKER: &str = ".hangar-host-base";

/// Host directories a `FROM host` image is given, read-only.
const HOST_SYSTEM_DIRS: &[&str] = &["usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32"];

/// For an image whose layers carry [`HOST_BASE_MARKER`]: read-only binds of
/// the host's system directories that are real directories on the host and
/// not symlinks in the image (merged-`/usr` hosts need only `/usr`). Meant
/// for trusted hosts and development: the Machine sees the host's programs
/// and libraries, never writes them.
fn host_base_mounts(layers: &[PathBuf]) -> Vec<GuestMount> {
    if !layers.iter().any(|l| l.join(HOST_BASE_MARKER).is_file()) {
        return Vec::new();
    }
    HOST_SYSTEM_DIRS
        .iter()
        .filter(|dir| {
            let host = Path::new("/").join(dir);
            let real_dir_on_host = std::fs::symlink_metadata(&host).is_ok_and(|m| m.is_dir());
            let top = layers
                .iter()
                .rev()
                .find_map(|l| std::fs::symlink_metadata(l.join(dir)).ok());
            real_dir_on_host && top.is_none_or(|m| m.is_dir())
        })
        .map(|dir| GuestMount {
            host_path: Path::new("/").join(dir),
            guest_path: format!("/{dir}"),
            read_only: true,
        })
        .collect()
}

/// Everything created for a start so far, released if the start fails.
struct PartialStart {
    cgroups: MachineCgroups,
    veth: Option<String>,
    task_dir: PathBuf,
}

impl PartialStart {
    async fn undo(self, child: Option<&mut tokio::process::Child>) {
        if let Some(child) = child {
            let _ = child.start_kill();
            let _ = tokio::time::timeout(SETUP_TIMEOUT, child.wait()).await;
        }
        let _ = self.cgroups.kill_all().await;
        if let Some(veth) = &self.veth {
            let _ = network::detach(veth);
        }
        let _ = self.cgroups.remove().await;
        let _ = std::fs::remove_dir_all(&self.task_dir);
    }
}

fn exit_info(status: std::io::Result<ExitStatus>, cgroups: &MachineCgroups) -> ExitInfo {
    let (exit_code, signal) = match status {
        Ok(status) => (status.code(), status.signal()),
        Err(_) => (None, None),
    };
    ExitInfo {
        exit_code,
        signal,
        oom_killed: cgroups.oom_killed(),
    }
}

impl ProcessDriver {
    pub(crate) async fn start_isolated(
        &self,
        spec: &MachineSpec,
        task_dir: PathBuf,
    ) -> Result<StartedTask, DriverError> {
        let began = Instant::now();
        for dir in ["upper", "work", "rootfs"] {
            let path = task_dir.join(dir);
            std::fs::create_dir_all(&path)
                .map_err(|e| DriverError::io("creating task directory", &path, e))?;
        }
        let config_path = task_dir.join("init.json");
        let config =
            serde_json::to_vec(&guest_config(spec, &task_dir)).expect("guest config serializes");
        std::fs::write(&config_path, config)
            .map_err(|e| DriverError::io("writing init config", &config_path, e))?;

        let task_name = task_dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let cgroups = if self.support.cgroups.is_empty() {
            MachineCgroups::default()
        } else {
            self.support.cgroups.create(&task_name, &spec.resources)?
        };
        let prepared = began.elapsed();
        let mut partial = PartialStart {
            cgroups,
            veth: None,
            task_dir: task_dir.clone(),
        };

        let (mut child, report_read) = match self.spawn_init(&config_path) {
            Ok(spawned) => spawned,
            Err(e) => {
                partial.undo(None).await;
                return Err(e);
            }
        };
        let pid = child.id().unwrap_or(0);
        let data = HandleData {
            mode: RunMode::Isolated,
            instance_id: spec.instance_id.clone(),
            task_dir: task_dir.clone(),
            cgroups: partial.cgroups.clone(),
            veth: (self.support.network && spec.network.is_some())
                .then(|| network::veth_name(&spec.machine_id, &spec.instance_id)),
            start_ticks: start_ticks(pid).unwrap_or(0),
        };
        let handle = data.into_handle(&spec.machine_id, pid);
        if let Err(e) = write_task_file(&handle, &task_dir) {
            partial.undo(Some(&mut child)).await;
            return Err(e);
        }
        let spawned = began.elapsed();

        // The init forks the Machine's PID 1 only once it is in its cgroups;
        // that one builds the root while the network is wired here, and
        // starts the workload on "go".
        let mut stdin = child.stdin.take().expect("stdin is piped");
        if let Err(e) = partial.cgroups.attach(pid) {
            partial.undo(Some(&mut child)).await;
            return Err(e);
        }
        let _ = stdin.write_all(&[protocol::CGROUPS_READY]).await;
        if let Err(e) = self.connect(spec, pid, &mut partial).await {
            drop(stdin);
            partial.undo(Some(&mut child)).await;
            return Err(e);
        }
        let connected = began.elapsed();
        let _ = stdin.write_all(protocol::GO).await;
        drop(stdin);
        match read_report(report_read).await {
            Ok(report) if report.is_empty() => {}
            Ok(report) => {
                partial.undo(Some(&mut child)).await;
                return Err(DriverError::StartFailed {
                    machine_id: spec.machine_id.clone(),
                    reason: report,
                });
            }
            Err(reason) => {
                partial.undo(Some(&mut child)).await;
                return Err(DriverError::StartFailed {
                    machine_id: spec.machine_id.clone(),
                    reason,
                });
            }
        }

        tracing::debug!(
            machine_id = %spec.machine_id,
            ?prepared,
            ?spawned,
            ?connected,
            workload_exec = ?began.elapsed(),
            "process driver: isolated start (times since the start began: task dir and cgroups ready, init spawned, network attached (the init builds the root meanwhile), init set up the root and exec'd the workload)"
        );
        let stdout = child.stdout.take().expect("stdout is piped");
        let stderr = child.stderr.take().expect("stderr is piped");
        let cgroups = partial.cgroups;
        Ok(StartedTask {
            handle,
            stdout: Box::pin(stdout),
            stderr: Box::pin(stderr),
            exit: Box::pin(async move {
                let status = child.wait().await;
                exit_info(status, &cgroups)
            }),
        })
    }

    /// Starts `hangar-machine-init run` in fresh namespaces, with the write end
    /// of a report pipe as its fd 3; returns the child and the pipe's read end.
    fn spawn_init(
        &self,
        config_path: &Path,
    ) -> Result<(tokio::process::Child, OwnedFd), DriverError> {
        let (report_read, report_write) = pipe2(OFlag::O_CLOEXEC)
            .map_err(|e| DriverError::io("creating the report pipe", config_path, e.into()))?;
        let mut flags = BASE_NAMESPACES;
        if self.support.network {
            flags |= CloneFlags::CLONE_NEWNET;
        }
        let mut command = Command::new(&self.config.init_exe);
        command
            .args(&self.config.init_args)
            .arg(protocol::RUN)
            .arg(config_path)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let report_raw = report_write.as_raw_fd();
        // SAFETY: unshare and dup2 are plain system calls, safe between fork and exec.
        unsafe {
            command.pre_exec(move || {
                unshare(flags).map_err(std::io::Error::from)?;
                if libc::dup2(report_raw, protocol::REPORT_FD) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command
            .spawn()
            .map_err(|e| DriverError::io("starting the machine init", &self.config.init_exe, e))?;
        // Only the child may hold the write end, or the report never reaches end-of-file.
        drop(report_write);
        Ok((child, report_read))
    }

    /// Wires the new init's network namespace to the bridge.
    async fn connect(
        &self,
        spec: &MachineSpec,
        pid: u32,
        partial: &mut PartialStart,
    ) -> Result<(), DriverError> {
        if !self.support.network {
            return Ok(());
        }
        match &spec.network {
            Some(net) => {
                let veth = network::veth_name(&spec.machine_id, &spec.instance_id);
                let ready = self.bridge_ready.load(Ordering::Acquire) && self.bridge.exists();
                if !ready {
                    let _serialised = self.bridge_lock.lock().await;
                    let bridge = self.bridge.clone();
                    run_blocking(move || bridge.ensure()).await?;
                    self.bridge_ready.store(true, Ordering::Release);
                }
                partial.veth = Some(veth.clone());
                let (bridge, net) = (self.bridge.clone(), net.clone());
                run_blocking(move || network::attach(&bridge, &veth, pid, &net)).await
            }
            // The init brings up loopback itself.
            None => Ok(()),
        }
    }

    pub(crate) async fn exec_isolated(
        &self,
        handle: &TaskHandle,
        data: &HandleData,
        req: ExecRequest,
    ) -> Result<ExecOutput, DriverError> {
        ensure_running(handle, data)?;
        let guest_init_pid = first_child(handle.pid).ok_or_else(|| DriverError::NotRunning {
            machine_id: handle.machine_id.clone(),
        })?;
        let config = ExecConfig {
            guest_init_pid,
            cgroup_procs: data.cgroups.procs_files(),
            workload: Workload {
                argv: req.argv.clone(),
                env: req.env.clone(),
                user: None,
                workdir: None,
            },
        };
        let mut command = Command::new(&self.config.init_exe);
        command
            .args(&self.config.init_args)
            .arg(protocol::EXEC)
            .arg(serde_json::to_string(&config).expect("exec config serializes"));
        run_exec(command, &handle.machine_id, req).await
    }
}

/// Runs an exec command to completion with stdin, output capture and timeout.
/// On timeout the command gets SIGTERM (the exec helper then kills its whole
/// process group), then SIGKILL.
pub(crate) async fn run_exec(
    mut command: Command,
    machine_id: &str,
    req: ExecRequest,
) -> Result<ExecOutput, DriverError> {
    command
        .stdin(if req.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = command.spawn().map_err(|e| DriverError::ExecFailed {
        machine_id: machine_id.to_owned(),
        reason: format!("starting the exec helper: {e}"),
    })?;
    let stdin_task = child.stdin.take().zip(req.stdin).map(|(mut stdin, bytes)| {
        tokio::spawn(async move {
            let _ = stdin.write_all(&bytes).await;
        })
    });
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let run = async {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let (_, _, status) = tokio::join!(
            stdout.read_to_end(&mut out),
            stderr.read_to_end(&mut err),
            child.wait()
        );
        (out, err, status)
    };
    let outcome = tokio::time::timeout(req.timeout, run).await;
    if let Some(task) = stdin_task {
        task.abort();
    }
    let (stdout, stderr, status) = match outcome {
        Ok(done) => done,
        Err(_) => {
            if let Some(pid) = child.id() {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid as i32),
                    nix::sys::signal::Signal::SIGTERM,
                );
            }
            if tokio::time::timeout(EXEC_KILL_GRACE, child.wait())
                .await
                .is_err()
            {
                let _ = child.start_kill();
                let _ = child.wait().await;
            }
            return Err(DriverError::ExecTimedOut {
                machine_id: machine_id.to_owned(),
                timeout_ms: req.timeout.as_millis(),
            });
        }
    };
    let status = status.map_err(|e| DriverError::ExecFailed {
        machine_id: machine_id.to_owned(),
        reason: e.to_string(),
    })?;
    let exit_code = status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
    let stderr_text = String::from_utf8_lossy(&stderr);
    if exit_code == protocol::EXIT_SETUP_FAILED
        && stderr_text.starts_with("hangar-machine-init exec:")
    {
        return Err(DriverError::ExecFailed {
            machine_id: machine_id.to_owned(),
            reason: stderr_text.trim().to_owned(),
        });
    }
    Ok(ExecOutput {
        exit_code,
        stdout,
        stderr,
    })
}

/// The first child of `pid` (the guest init, for a Machine's monitor).
pub(crate) fn first_child(pid: u32) -> Option<u32> {
    let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).ok()?;
    children.split_whitespace().next()?.parse().ok()
}

/// Reads the init's report pipe until it closes: empty means the workload started.
async fn read_report(report: OwnedFd) -> Result<String, String> {
    let mut file = tokio::fs::File::from_std(std::fs::File::from(report));
    let mut text = String::new();
    match tokio::time::timeout(SETUP_TIMEOUT, file.read_to_string(&mut text)).await {
        Ok(Ok(_)) => Ok(text.trim().to_owned()),
        Ok(Err(e)) => Err(format!("reading the init's report: {e}")),
        Err(_) => Err(format!(
            "the machine's init did not finish setting up within {SETUP_TIMEOUT:?}"
        )),
    }
}

/// Runs blocking host work (iproute2 calls) off the async threads.
pub(crate) async fn run_blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, DriverError> + Send + 'static,
) -> Result<T, DriverError> {
    tokio::task::spawn_blocking(work).await.unwrap_or_else(|e| {
        Err(DriverError::HostSetup(format!(
            "a blocking host task failed: {e}"
        )))
    })
}
