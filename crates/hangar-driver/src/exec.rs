//! Running commands inside a Machine and listing its processes.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A command to run inside a running Machine.
#[derive(Debug, Clone)]
pub struct ExecRequest {
    pub argv: Vec<String>,
    /// The command is killed, and the exec fails, after this long.
    pub timeout: Duration,
    /// Bytes written to the command's standard input (closed afterwards).
    pub stdin: Option<Vec<u8>>,
    /// Environment of the command (the driver adds nothing).
    pub env: Vec<(String, String)>,
}

/// The result of a finished exec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecOutput {
    /// Exit code; `128 + n` when killed by signal `n`.
    pub exit_code: i32,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// One process inside a Machine, as Fly's `ps` endpoint reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessInfo {
    /// PID as seen inside the Machine.
    pub pid: u32,
    /// The command line, arguments separated by spaces.
    pub command: String,
    /// Resident memory in bytes.
    pub rss: u64,
    /// Total CPU time (user + system) in clock ticks.
    pub cpu: u64,
    /// Start time, in clock ticks since the host booted.
    pub stime: u64,
    /// Wall-clock run time in milliseconds.
    pub rtime: u64,
    /// Working directory inside the Machine.
    pub directory: String,
    pub listen_sockets: Vec<ListenSocket>,
}

/// A socket a process listens on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListenSocket {
    /// `"tcp"` or `"udp"`.
    pub proto: String,
    /// `ip:port` (IPv6 in brackets).
    pub address: String,
}
