//! HTTP/1.1 connections to Machines, kept open between requests.
//!
//! Each connection is one `hyper::client::conn::http1` handshake over a
//! `TcpStream` (TCP_NODELAY). No task is spawned for it: whoever holds the
//! connection drives it — the request's future while the request is sent
//! and the response head awaited, then the response body while the client
//! connection's task streams it out. A request, its upstream connection and
//! its client connection are thus served on one task, with no wake-up
//! crossing tasks or threads. A request checks out an idle connection for
//! the Machine's address or dials a new one; the connection goes back to
//! the pool when the response body has been read to its end (see
//! [`Checkout`]). Idle connections are not polled; one the Machine closed
//! meanwhile is found closed when checked out, and replaced. They are
//! bounded per address and dropped after [`IDLE_TIMEOUT`].
//!
//! Idle connections are kept per thread: a request takes one that the
//! thread it runs on put back. On a connection worker (see
//! [`crate::workers`]) that is the thread whose event loop the socket is
//! registered with, so its readiness never has to be passed to another
//! thread.

use std::collections::HashMap;
use std::future::{poll_fn, Future};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use thread_local::ThreadLocal;
use tokio::net::TcpStream;

use crate::forward::ProxyBody;
use crate::proxy::SendError;

/// How long an idle connection is kept.
pub(crate) const IDLE_TIMEOUT: Duration = Duration::from_secs(4);
/// At most this many idle connections per Machine address.
const MAX_IDLE_PER_ADDR: usize = 256;

/// hyper's connection state machine (with upgrade support), to be polled.
type Driver = Pin<Box<dyn Future<Output = hyper::Result<()>> + Send>>;

/// One HTTP/1.1 connection to a Machine: the sender requests go in by and
/// the connection future that does the I/O, polled by its holder.
pub(crate) struct Upstream {
    sender: SendRequest<ProxyBody>,
    /// `None` once the connection ended (closed or upgraded).
    driver: Option<Driver>,
}

/// Why a request did not get a response.
enum Failed {
    /// The connection was closed before it took the request.
    Unsent(Request<ProxyBody>),
    Error(hyper::Error),
}

impl Upstream {
    /// Lets the connection do whatever I/O it can; wakes `cx` when it can
    /// do more.
    fn drive(&mut self, cx: &mut Context<'_>) {
        let Some(driver) = self.driver.as_mut() else {
            return;
        };
        if let Poll::Ready(result) = driver.as_mut().poll(cx) {
            if let Err(error) = result {
                tracing::debug!(%error, "connection to a Machine ended with an error");
            }
            self.driver = None;
        }
    }

    /// True when the connection can take another request later.
    fn is_reusable(&mut self) -> bool {
        // Let it settle (read the end of the last answer, notice a close)
        // without arranging to be woken: nobody waits on an idle connection.
        self.drive(&mut Context::from_waker(Waker::noop()));
        self.driver.is_some() && !self.sender.is_closed()
    }

    /// Sends `request` and drives the connection until the response head
    /// arrives.
    async fn send(&mut self, request: Request<ProxyBody>) -> Result<Response<Incoming>, Failed> {
        let ready = poll_fn(|cx| {
            self.drive(cx);
            self.sender.poll_ready(cx)
        })
        .await;
        if ready.is_err() {
            return Err(Failed::Unsent(request));
        }
        let mut response = std::pin::pin!(self.sender.try_send_request(request));
        poll_fn(|cx| {
            self.drive(cx);
            response.as_mut().poll(cx)
        })
        .await
        .map_err(|mut failed| match failed.take_message() {
            Some(unsent) => Failed::Unsent(unsent),
            None => Failed::Error(failed.into_error()),
        })
    }

    /// Hands the connection to a task of its own (an upgraded connection,
    /// whose I/O the tunnel takes over once the connection lets it go).
    fn spawn(self) {
        if let Some(driver) = self.driver {
            tokio::spawn(async move {
                if let Err(error) = driver.await {
                    tracing::debug!(%error, "upgraded connection to a Machine ended with an error");
                }
            });
        }
    }
}

struct Idle {
    upstream: Upstream,
    since: Instant,
}

/// Idle connections of one thread, by Machine address.
type IdleByAddr = HashMap<SocketAddr, Vec<Idle>>;

#[derive(Default)]
struct Shared {
    /// Each thread's idle connections; the lock is only ever contended by
    /// the sweeper.
    idle: ThreadLocal<Mutex<IdleByAddr>>,
    /// Set once the idle sweeper runs.
    sweeping: AtomicBool,
}

/// Idle HTTP/1.1 connections to Machines, by Machine address.
#[derive(Default)]
pub(crate) struct Http1Pool {
    shared: Arc<Shared>,
}

/// A connection in use, held by the response body that drives it. It goes
/// back to its pool when [`Checkout::finish`] is called on a reusable
/// connection, and is closed when dropped otherwise.
pub(crate) struct Checkout {
    /// `None` when the connection serves one request only.
    pool: Option<Weak<Shared>>,
    addr: SocketAddr,
    upstream: Upstream,
}

impl Checkout {
    /// Drives the connection (reads the response body into it).
    pub(crate) fn drive(&mut self, cx: &mut Context<'_>) {
        self.upstream.drive(cx);
    }

    /// Returns the connection for reuse (its last response ended cleanly).
    pub(crate) fn finish(mut self) {
        let Some(shared) = self.pool.as_ref().and_then(Weak::upgrade) else {
            return;
        };
        if self.upstream.is_reusable() {
            shared.put(self.addr, self.upstream);
        }
    }

    /// Lets the connection finish a protocol switch on its own task.
    pub(crate) fn upgrade(self) {
        self.upstream.spawn();
    }
}

impl Http1Pool {
    /// Sends `request` (origin-form URI, Host set) to `addr`. With `reuse`,
    /// an idle connection is taken when there is one and the connection
    /// goes back to the pool once [`Checkout::finish`] is called; without
    /// it, a new connection serves this request only. A reused connection
    /// that closed before taking the request is replaced by a new one; a
    /// new connection is dialled within `connect_timeout()`.
    pub(crate) async fn send(
        &self,
        addr: SocketAddr,
        reuse: bool,
        mut request: Request<ProxyBody>,
        connect_timeout: impl FnOnce() -> Duration,
    ) -> Result<(Response<Incoming>, Checkout), SendError> {
        while let Some(mut upstream) = reuse.then(|| self.shared.take(addr)).flatten() {
            match upstream.send(request).await {
                Ok(response) => return Ok((response, self.checkout(addr, reuse, upstream))),
                Err(Failed::Unsent(unsent)) => request = unsent,
                Err(Failed::Error(error)) => return Err(SendError::Upstream(error.to_string())),
            }
        }
        let mut upstream = dial(addr, connect_timeout()).await?;
        match upstream.send(request).await {
            Ok(response) => Ok((response, self.checkout(addr, reuse, upstream))),
            Err(Failed::Unsent(_)) => Err(SendError::Upstream(
                "the connection closed before taking the request".to_string(),
            )),
            Err(Failed::Error(error)) => Err(SendError::Upstream(error.to_string())),
        }
    }

    fn checkout(&self, addr: SocketAddr, reuse: bool, upstream: Upstream) -> Checkout {
        Checkout {
            pool: reuse.then(|| Arc::downgrade(&self.shared)),
            addr,
            upstream,
        }
    }
}

impl Shared {
    /// The most recently used idle connection to `addr` that has not
    /// expired.
    fn take(&self, addr: SocketAddr) -> Option<Upstream> {
        let mut idle = self.idle.get_or_default().lock().unwrap();
        let list = idle.get_mut(&addr)?;
        while let Some(entry) = list.pop() {
            if entry.since.elapsed() < IDLE_TIMEOUT {
                return Some(entry.upstream);
            }
        }
        None
    }

    fn put(self: &Arc<Self>, addr: SocketAddr, upstream: Upstream) {
        let mut idle = self.idle.get_or_default().lock().unwrap();
        let list = idle.entry(addr).or_default();
        if list.len() < MAX_IDLE_PER_ADDR {
            list.push(Idle {
                upstream,
                since: Instant::now(),
            });
        }
        drop(idle);
        if !self.sweeping.load(Ordering::Relaxed) {
            self.start_sweeper();
        }
    }

    /// Drops expired idle connections every [`IDLE_TIMEOUT`] while the pool
    /// lives (started on first use, inside the runtime).
    fn start_sweeper(self: &Arc<Self>) {
        if self.sweeping.swap(true, Ordering::Relaxed) {
            return;
        }
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(IDLE_TIMEOUT);
            loop {
                tick.tick().await;
                let Some(shared) = weak.upgrade() else { return };
                let mut expired: Vec<Idle> = Vec::new();
                for idle in shared.idle.iter() {
                    idle.lock().unwrap().retain(|_, list| {
                        let (old, fresh) = list
                            .drain(..)
                            .partition(|e| e.since.elapsed() >= IDLE_TIMEOUT);
                        expired.extend::<Vec<Idle>>(old);
                        *list = fresh;
                        !list.is_empty()
                    });
                }
                // Closed outside the lock.
                drop(expired);
            }
        });
    }
}

/// Opens a connection to `addr` within `timeout`; its holder drives it.
async fn dial(addr: SocketAddr, timeout: Duration) -> Result<Upstream, SendError> {
    let connect_failed = |e: &dyn std::fmt::Display| SendError::Connect(format!("{addr}: {e}"));
    let stream = tokio::time::timeout(timeout, TcpStream::connect(addr))
        .await
        .map_err(|_| connect_failed(&format!("no answer within {timeout:?}")))?
        .map_err(|e| connect_failed(&e))?;
    stream.set_nodelay(true).map_err(|e| connect_failed(&e))?;
    let (sender, connection) = http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| connect_failed(&e))?;
    let driver: Driver = Box::pin(connection.with_upgrades());
    Ok(Upstream {
        sender,
        driver: Some(driver),
    })
}
