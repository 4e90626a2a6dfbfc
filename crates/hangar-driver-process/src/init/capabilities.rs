//! Limiting what root inside a Machine may do.
//!
//! Machines run as real root (no user namespace), so the workload's capability
//! bounding set is cut down to a conventional container set before it execs:
//! no CAP_SYS_ADMIN (mounts), CAP_NET_ADMIN (its own addresses),
//! CAP_SYS_MODULE, CAP_SYS_PTRACE, CAP_SYS_RAWIO, CAP_MKNOD and the like.
//! After exec, root's permitted set is the bounding set.

/// Capabilities a workload keeps, by number (see capabilities(7)).
const KEPT: [u32; 13] = [
    0,  // CAP_CHOWN
    1,  // CAP_DAC_OVERRIDE
    3,  // CAP_FOWNER
    4,  // CAP_FSETID
    5,  // CAP_KILL
    6,  // CAP_SETGID
    7,  // CAP_SETUID
    8,  // CAP_SETPCAP
    10, // CAP_NET_BIND_SERVICE
    13, // CAP_NET_RAW
    18, // CAP_SYS_CHROOT
    29, // CAP_AUDIT_WRITE
    31, // CAP_SETFCAP
];

/// Highest capability number the kernel knows.
fn last_capability() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(40)
}

/// Drops every capability outside [`KEPT`] from the bounding set.
pub(super) fn restrict_bounding_set() -> Result<(), String> {
    for capability in (0..=last_capability()).filter(|c| !KEPT.contains(c)) {
        // SAFETY: PR_CAPBSET_DROP takes a capability number and touches no memory.
        let result =
            unsafe { libc::prctl(libc::PR_CAPBSET_DROP, capability as libc::c_ulong, 0, 0, 0) };
        if result < 0 {
            let error = std::io::Error::last_os_error();
            // EINVAL: the kernel does not know this capability; nothing to drop.
            if error.raw_os_error() != Some(libc::EINVAL) {
                return Err(format!("dropping capability {capability}: {error}"));
            }
        }
    }
    Ok(())
}
