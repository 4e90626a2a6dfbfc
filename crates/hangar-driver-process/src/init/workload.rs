//! Turning the current (forked) process into a Machine's workload: identity, directory, exec.

use std::ffi::CString;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use nix::unistd::{execve, setgid, setgroups, setsid, setuid, Gid, Uid};

use super::{capabilities, signals, user};
use crate::protocol::Workload;

const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Finds `program` the way a shell would, using the workload's `PATH`.
fn resolve_program(program: &str, env: &[(String, String)]) -> Result<String, String> {
    if program.contains('/') {
        return Ok(program.to_owned());
    }
    let path = env
        .iter()
        .find(|(k, _)| k == "PATH")
        .map_or(DEFAULT_PATH, |(_, v)| v.as_str());
    path.split(':')
        .map(|dir| Path::new(if dir.is_empty() { "." } else { dir }).join(program))
        .find(|candidate| {
            candidate
                .metadata()
                .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
                .unwrap_or(false)
        })
        .map(|p| p.to_string_lossy().into_owned())
        .ok_or_else(|| format!("{program:?} was not found in PATH ({path}) inside the machine"))
}

fn c_string(value: &str, what: &str) -> Result<CString, String> {
    CString::new(value).map_err(|_| format!("{what} contains a NUL byte: {value:?}"))
}

/// Becomes the workload. Returns only on failure, with a message saying what failed.
pub(super) fn become_workload(workload: &Workload, new_session: bool) -> String {
    match try_become_workload(workload, new_session) {
        Ok(never) => match never {},
        Err(message) => message,
    }
}

fn try_become_workload(
    workload: &Workload,
    new_session: bool,
) -> Result<std::convert::Infallible, String> {
    signals::restore_defaults().map_err(|e| format!("resetting signal handlers: {e}"))?;
    if new_session {
        setsid().map_err(|e| format!("setsid: {e}"))?;
    }
    let program = workload.argv.first().ok_or("the command line is empty")?;
    let identity = user::resolve(workload.user.as_deref())?;
    let workdir = workload
        .workdir
        .as_deref()
        .filter(|w| !w.is_empty())
        .unwrap_or("/");
    std::fs::create_dir_all(workdir)
        .map_err(|e| format!("creating working directory {workdir}: {e}"))?;

    capabilities::restrict_bounding_set()?;
    let groups: Vec<Gid> = identity
        .supplementary
        .iter()
        .map(|g| Gid::from_raw(*g))
        .collect();
    setgroups(&groups).map_err(|e| format!("setgroups: {e}"))?;
    setgid(Gid::from_raw(identity.gid)).map_err(|e| format!("setgid {}: {e}", identity.gid))?;
    setuid(Uid::from_raw(identity.uid)).map_err(|e| format!("setuid {}: {e}", identity.uid))?;
    std::env::set_current_dir(workdir)
        .map_err(|e| format!("entering working directory {workdir}: {e}"))?;

    let path = resolve_program(program, &workload.env)?;
    let c_path = c_string(&path, "program path")?;
    let argv = workload
        .argv
        .iter()
        .map(|a| c_string(a, "argument"))
        .collect::<Result<Vec<_>, _>>()?;
    let env = workload
        .env
        .iter()
        .map(|(k, v)| c_string(&format!("{k}={v}"), "environment variable"))
        .collect::<Result<Vec<_>, _>>()?;
    let err = execve(&c_path, &argv, &env).unwrap_err();
    Err(format!("executing {path}: {err}"))
}
