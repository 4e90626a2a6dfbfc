//! Idle connections to Machines for the lean path, kept per thread (like
//! [`crate::pool`]'s, so a connection is reused on the event loop it is
//! registered with) and bounded per Machine address.

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use thread_local::ThreadLocal;
use tokio::net::TcpStream;

use crate::pool::IDLE_TIMEOUT;

/// At most this many idle connections per Machine address and thread.
const MAX_IDLE_PER_ADDR: usize = 256;

type Idle = HashMap<SocketAddr, Vec<(TcpStream, Instant)>>;

/// Idle lean-path connections to Machines.
#[derive(Default)]
pub(crate) struct RawPool {
    idle: ThreadLocal<RefCell<Idle>>,
}

impl RawPool {
    /// An idle connection to `addr` that still looks open, if this thread
    /// has one.
    pub(crate) fn checkout(&self, addr: SocketAddr) -> Option<TcpStream> {
        let mut idle = self.idle.get_or_default().borrow_mut();
        let connections = idle.get_mut(&addr)?;
        while let Some((stream, since)) = connections.pop() {
            if since.elapsed() < IDLE_TIMEOUT && still_open(&stream) {
                return Some(stream);
            }
        }
        None
    }

    /// Keeps `stream` for the next request to `addr`.
    pub(crate) fn checkin(&self, addr: SocketAddr, stream: TcpStream) {
        let mut idle = self.idle.get_or_default().borrow_mut();
        let connections = idle.entry(addr).or_default();
        connections.retain(|(_, since)| since.elapsed() < IDLE_TIMEOUT);
        if connections.len() < MAX_IDLE_PER_ADDR {
            connections.push((stream, Instant::now()));
        }
    }
}

/// False when the Machine closed the connection (or sent something
/// unasked) while it sat idle. Costs no system call unless the event loop
/// saw the socket become readable.
fn still_open(stream: &TcpStream) -> bool {
    let mut byte = [0u8; 1];
    matches!(stream.try_read(&mut byte), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
}

/// Dials `addr` with TCP_NODELAY, giving up after `timeout`.
pub(crate) async fn dial(addr: SocketAddr, timeout: Duration) -> Result<TcpStream, String> {
    match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
        Ok(Ok(stream)) => {
            let _ = stream.set_nodelay(true);
            Ok(stream)
        }
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err(format!("connect timed out after {timeout:?}")),
    }
}
