//! Listing a container's processes from the host's `/proc`.

use hangar_driver::ProcessInfo;

/// Host PIDs in the PID namespace of host process `pid` (the container's init).
fn pids_sharing_pid_namespace(pid: u32) -> Vec<u32> {
    let Ok(target) = std::fs::read_link(format!("/proc/{pid}/ns/pid")) else {
        return Vec::new();
    };
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut pids: Vec<u32> = entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|p| {
            std::fs::read_link(format!("/proc/{p}/ns/pid"))
                .map(|link| link == target)
                .unwrap_or(false)
        })
        .collect();
    // The init first: its network namespace is the container's.
    pids.sort_by_key(|p| (*p != pid, *p));
    pids
}

/// The processes of the container whose init is host process `init_pid`.
pub(crate) fn list(init_pid: u32) -> Vec<ProcessInfo> {
    hangar_driver_process::describe_host_processes(&pids_sharing_pid_namespace(init_pid))
}
