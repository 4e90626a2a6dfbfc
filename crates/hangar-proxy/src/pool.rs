//! HTTP/1.1 connections to Machines, kept open between requests.
//!
//! Each connection is one `hyper::client::conn::http1` handshake over a
//! `TcpStream` (TCP_NODELAY), with its connection task spawned once. A
//! request checks out an idle sender for the Machine's address or dials a
//! new one; the sender goes back to the pool when the response body has
//! been read to its end (see [`Checkout`]). Idle senders are bounded per
//! address and dropped after [`IDLE_TIMEOUT`], which closes their sockets.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::forward::ProxyBody;
use crate::proxy::SendError;

/// How long an idle connection is kept.
pub(crate) const IDLE_TIMEOUT: Duration = Duration::from_secs(4);
/// At most this many idle connections per Machine address.
const MAX_IDLE_PER_ADDR: usize = 256;

type Sender = SendRequest<ProxyBody>;

struct Idle {
    sender: Sender,
    since: Instant,
}

#[derive(Default)]
struct Shared {
    idle: Mutex<HashMap<SocketAddr, Vec<Idle>>>,
    /// Set once the idle sweeper runs.
    sweeping: std::sync::atomic::AtomicBool,
}

/// Idle HTTP/1.1 connections to Machines, by Machine address.
#[derive(Default)]
pub(crate) struct Http1Pool {
    shared: Arc<Shared>,
}

/// A connection in use: goes back to its pool when [`Checkout::finish`]
/// is called, and is closed when dropped otherwise.
pub(crate) struct Checkout {
    pool: Weak<Shared>,
    addr: SocketAddr,
    sender: Sender,
}

impl Checkout {
    /// Returns the connection for reuse (its last response ended cleanly).
    pub(crate) fn finish(self) {
        if self.sender.is_closed() {
            return;
        }
        if let Some(shared) = self.pool.upgrade() {
            shared.put(self.addr, self.sender);
        }
    }
}

impl Http1Pool {
    /// Sends `request` (origin-form URI, Host set) to `addr`. With `reuse`,
    /// an idle connection is taken when there is one and the connection is
    /// handed back with the response for [`Checkout::finish`]; without it,
    /// a new connection serves this request only. A reused connection that
    /// closed before taking the request is replaced by a new one.
    pub(crate) async fn send(
        &self,
        addr: SocketAddr,
        reuse: bool,
        mut request: Request<ProxyBody>,
    ) -> Result<(Response<Incoming>, Option<Checkout>), SendError> {
        while let Some(mut sender) = reuse.then(|| self.shared.take(addr)).flatten() {
            if sender.ready().await.is_err() {
                continue;
            }
            match sender.try_send_request(request).await {
                Ok(response) => return Ok((response, Some(self.checkout(addr, sender)))),
                Err(mut failed) => match failed.take_message() {
                    Some(unsent) => request = unsent,
                    None => return Err(SendError::Upstream(failed.into_error().to_string())),
                },
            }
        }
        let mut sender = dial(addr).await?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| SendError::Upstream(e.to_string()))?;
        let checkout = reuse.then(|| self.checkout(addr, sender));
        Ok((response, checkout))
    }

    fn checkout(&self, addr: SocketAddr, sender: Sender) -> Checkout {
        Checkout {
            pool: Arc::downgrade(&self.shared),
            addr,
            sender,
        }
    }
}

impl Shared {
    /// The most recently used open idle sender for `addr`.
    fn take(&self, addr: SocketAddr) -> Option<Sender> {
        let mut idle = self.idle.lock().unwrap();
        let list = idle.get_mut(&addr)?;
        while let Some(entry) = list.pop() {
            if !entry.sender.is_closed() && entry.since.elapsed() < IDLE_TIMEOUT {
                return Some(entry.sender);
            }
        }
        None
    }

    fn put(self: &Arc<Self>, addr: SocketAddr, sender: Sender) {
        let mut idle = self.idle.lock().unwrap();
        let list = idle.entry(addr).or_default();
        if list.len() < MAX_IDLE_PER_ADDR {
            list.push(Idle {
                sender,
                since: Instant::now(),
            });
        }
        drop(idle);
        self.start_sweeper();
    }

    /// Drops expired idle connections every [`IDLE_TIMEOUT`] while the pool
    /// lives (started on first use, inside the runtime).
    fn start_sweeper(self: &Arc<Self>) {
        use std::sync::atomic::Ordering;
        if self.sweeping.swap(true, Ordering::Relaxed) {
            return;
        }
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(IDLE_TIMEOUT);
            loop {
                tick.tick().await;
                let Some(shared) = weak.upgrade() else { return };
                shared.idle.lock().unwrap().retain(|_, list| {
                    list.retain(|e| !e.sender.is_closed() && e.since.elapsed() < IDLE_TIMEOUT);
                    !list.is_empty()
                });
            }
        });
    }
}

/// Opens a connection to `addr` and spawns its connection task.
async fn dial(addr: SocketAddr) -> Result<Sender, SendError> {
    let connect_failed = |e: &dyn std::fmt::Display| SendError::Connect(format!("{addr}: {e}"));
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|e| connect_failed(&e))?;
    stream.set_nodelay(true).map_err(|e| connect_failed(&e))?;
    let (sender, connection) = http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| connect_failed(&e))?;
    tokio::spawn(async move {
        if let Err(error) = connection.with_upgrades().await {
            tracing::debug!(%error, "connection to a Machine ended with an error");
        }
    });
    Ok(sender)
}
