//! Listing a Machine's processes from `/proc`, in the shape of Fly's `ps`.

use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr};

use hangar_driver::{ListenSocket, ProcessInfo};

use crate::handle::stat_fields;

/// Host PIDs of every process whose namespace link `ns` (e.g. `pid`) reads `target`.
pub(crate) fn pids_in_namespace(ns: &str, target: &str) -> Vec<u32> {
    all_pids()
        .into_iter()
        .filter(|pid| {
            std::fs::read_link(format!("/proc/{pid}/ns/{ns}"))
                .map(|link| link.to_string_lossy() == target)
                .unwrap_or(false)
        })
        .collect()
}

/// Host PIDs of every process in session `sid`.
pub(crate) fn pids_in_session(sid: u32) -> Vec<u32> {
    all_pids()
        .into_iter()
        .filter(|pid| stat_fields(*pid).and_then(|f| f.get(3)?.parse::<u32>().ok()) == Some(sid))
        .collect()
}

fn all_pids() -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect()
}

/// Describes `pids` (host PIDs, all in one network namespace, the first one's
/// sockets are listed); processes that vanish meanwhile are skipped.
pub fn describe(pids: &[u32]) -> Vec<ProcessInfo> {
    let sockets = pids
        .first()
        .map(|pid| listening_sockets(*pid))
        .unwrap_or_default();
    let page_size = sysconf(nix::unistd::SysconfVar::PAGE_SIZE, 4096);
    let ticks_per_second = sysconf(nix::unistd::SysconfVar::CLK_TCK, 100);
    let uptime_ticks = std::fs::read_to_string("/proc/uptime")
        .ok()
        .and_then(|u| u.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0, |secs| (secs * ticks_per_second as f64) as u64);
    let mut infos: Vec<ProcessInfo> = pids
        .iter()
        .filter_map(|pid| describe_one(*pid, &sockets, page_size, ticks_per_second, uptime_ticks))
        .collect();
    infos.sort_by_key(|p| p.pid);
    infos
}

fn sysconf(var: nix::unistd::SysconfVar, fallback: u64) -> u64 {
    nix::unistd::sysconf(var)
        .ok()
        .flatten()
        .map_or(fallback, |v| v as u64)
}

fn describe_one(
    pid: u32,
    sockets: &HashMap<u64, ListenSocket>,
    page_size: u64,
    ticks_per_second: u64,
    uptime_ticks: u64,
) -> Option<ProcessInfo> {
    let fields = stat_fields(pid)?;
    let field = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let guest_pid = status
        .lines()
        .find_map(|l| l.strip_prefix("NSpid:"))
        .and_then(|ids| ids.split_whitespace().last()?.parse().ok())
        .unwrap_or(pid);
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let command = cmdline
        .split(|b| *b == 0)
        .filter(|part| !part.is_empty())
        .map(|part| String::from_utf8_lossy(part).into_owned())
        .collect::<Vec<_>>()
        .join(" ");
    let rss_pages = std::fs::read_to_string(format!("/proc/{pid}/statm"))
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .unwrap_or(0);
    let start = field(19);
    let listen_sockets = socket_inodes(pid)
        .iter()
        .filter_map(|inode| sockets.get(inode).cloned())
        .collect();
    Some(ProcessInfo {
        pid: guest_pid,
        command,
        rss: rss_pages * page_size,
        cpu: field(11) + field(12),
        stime: start,
        rtime: uptime_ticks.saturating_sub(start) * 1000 / ticks_per_second.max(1),
        directory: std::fs::read_link(format!("/proc/{pid}/cwd"))
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default(),
        listen_sockets,
    })
}

fn socket_inodes(pid: u32) -> Vec<u64> {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return Vec::new();
    };
    fds.filter_map(|fd| {
        let target = std::fs::read_link(fd.ok()?.path()).ok()?;
        let target = target.to_str()?;
        target
            .strip_prefix("socket:[")?
            .strip_suffix(']')?
            .parse()
            .ok()
    })
    .collect()
}

/// Listening TCP and bound UDP sockets of the network namespace `pid` is in, by inode.
fn listening_sockets(pid: u32) -> HashMap<u64, ListenSocket> {
    let mut sockets = HashMap::new();
    for (table, proto, listening_state) in [
        ("tcp", "tcp", "0A"),
        ("tcp6", "tcp", "0A"),
        ("udp", "udp", "07"),
        ("udp6", "udp", "07"),
    ] {
        let text = std::fs::read_to_string(format!("/proc/{pid}/net/{table}")).unwrap_or_default();
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            if cols.len() < 10 || cols[3] != listening_state {
                continue;
            }
            let (Some(address), Ok(inode)) = (decode_address(cols[1]), cols[9].parse::<u64>())
            else {
                continue;
            };
            if inode != 0 {
                sockets.insert(
                    inode,
                    ListenSocket {
                        proto: proto.to_owned(),
                        address,
                    },
                );
            }
        }
    }
    sockets
}

/// Decodes `/proc/net/tcp`'s `HEXADDR:HEXPORT` (each 32-bit word printed in host byte order).
fn decode_address(field: &str) -> Option<String> {
    let (address, port) = field.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    match address.len() {
        8 => {
            let word = u32::from_str_radix(address, 16).ok()?;
            Some(format!("{}:{port}", Ipv4Addr::from(word.to_ne_bytes())))
        }
        32 => {
            let mut bytes = [0u8; 16];
            for (i, chunk) in address.as_bytes().chunks(8).enumerate() {
                let word = u32::from_str_radix(std::str::from_utf8(chunk).ok()?, 16).ok()?;
                bytes[i * 4..i * 4 + 4].copy_from_slice(&word.to_ne_bytes());
            }
            Some(format!("[{}]:{port}", Ipv6Addr::from(bytes)))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::decode_address;

    #[test]
    fn decodes_proc_net_addresses() {
        assert_eq!(decode_address("0100007F:1F90").unwrap(), "127.0.0.1:8080");
        assert_eq!(
            decode_address("00000000000000000000000000000000:0050").unwrap(),
            "[::]:80"
        );
        assert_eq!(
            decode_address("00000000000000000000000001000000:0050").unwrap(),
            "[::1]:80"
        );
    }
}
