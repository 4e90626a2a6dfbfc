//! A fixed-rate, open-loop HTTP/1.1 load generator: request `i` is due at
//! `start + i / rate` whatever happened to the requests before it, and its
//! latency counts from that due time whenever the generator could only send
//! it late (every connection busy), so a slow server is not hidden by the
//! generator waiting for it (no coordinated omission). When a connection is
//! free early it sleeps until the due time and the latency counts from
//! when it woke: the timer's ~1 ms granularity is the generator's delay, not
//! the server's.
//!
//! It runs on its own OS thread with its own single-threaded runtime, so it
//! never takes the worker threads of the proxy under test (which runs in
//! this process).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::LoadResult;
use crate::error::BenchError;
use crate::stats::Samples;

/// How long one request may take before it counts as failed.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);
/// How far past its duration a run that fell behind may go on.
const OVERRUN: Duration = Duration::from_secs(10);
/// Time to open the connections before the first request is due.
const WARM_UP: Duration = Duration::from_millis(200);

/// How a fixed-rate run is shaped.
#[derive(Debug, Clone, Copy)]
pub struct RateShape {
    /// Requests per second offered.
    pub rate: f64,
    /// Keep-alive connections the requests are spread over.
    pub connections: usize,
    pub duration: Duration,
}

/// Offers `shape.rate` requests/s of `GET /` with `Host: host` to `addr`.
pub async fn run(addr: SocketAddr, host: &str, shape: RateShape) -> Result<LoadResult, BenchError> {
    let host = host.to_string();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let spawned = std::thread::Builder::new()
        .name("open-loop-load".into())
        .spawn(move || {
            let result = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime.block_on(drive(addr, host, shape)),
                Err(source) => Err(BenchError::Io {
                    path: "open-loop runtime".into(),
                    source,
                }),
            };
            let _ = tx.send(result);
        });
    if let Err(source) = spawned {
        return Err(BenchError::Io {
            path: "open-loop thread".into(),
            source,
        });
    }
    rx.await.unwrap_or_else(|_| {
        Err(BenchError::Io {
            path: "open-loop thread".into(),
            source: std::io::Error::other("the load thread panicked"),
        })
    })
}

/// The schedule shared by every connection.
struct Schedule {
    start: Instant,
    interval: Duration,
    total: u64,
    next: AtomicU64,
    /// No request is sent after this, however far behind the run is.
    give_up: Instant,
}

impl Schedule {
    /// The next request's due time, or `None` when all were taken or the
    /// run is past its time bound.
    fn take(&self) -> Option<Instant> {
        if Instant::now() > self.give_up {
            return None;
        }
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        (i < self.total).then(|| self.start + self.interval.mul_f64(i as f64))
    }
}

/// Latencies and failures seen by one connection.
#[derive(Default)]
struct Outcome {
    latencies: Vec<Duration>,
    errors: u64,
}

async fn drive(addr: SocketAddr, host: String, shape: RateShape) -> Result<LoadResult, BenchError> {
    if shape.rate <= 0.0 {
        return Ok(LoadResult::default());
    }
    let mut senders = Vec::with_capacity(shape.connections);
    for _ in 0..shape.connections.max(1) {
        senders.push(connect(addr).await?);
    }
    let start = Instant::now() + WARM_UP;
    let schedule = Arc::new(Schedule {
        start,
        give_up: start + shape.duration + OVERRUN,
        interval: Duration::from_secs_f64(1.0 / shape.rate),
        total: (shape.rate * shape.duration.as_secs_f64()).round() as u64,
        next: AtomicU64::new(0),
    });
    let workers: Vec<_> = senders
        .into_iter()
        .map(|sender| tokio::spawn(worker(addr, host.clone(), sender, schedule.clone())))
        .collect();
    let mut samples = Samples::default();
    let mut result = LoadResult::default();
    for worker in workers {
        let outcome = worker.await.unwrap_or_default();
        result.errors += outcome.errors;
        for latency in outcome.latencies {
            samples.push(latency);
        }
    }
    let elapsed = schedule.start.elapsed().as_secs_f64();
    result.requests = samples.len() as u64;
    // Requests never sent because the run hit its time bound count as failed.
    result.errors += schedule
        .total
        .saturating_sub(result.requests + result.errors);
    result.requests_per_sec = result.requests as f64 / elapsed.max(1e-9);
    if let Some(summary) = samples.summary() {
        result.p50 = Duration::from_secs_f64(summary.p50_ms / 1000.0);
        result.p99 = Duration::from_secs_f64(summary.p99_ms / 1000.0);
    }
    Ok(result)
}

/// Sends requests on one connection as they fall due; reconnects after a
/// failure.
async fn worker(
    addr: SocketAddr,
    host: String,
    mut sender: SendRequest<Empty<Bytes>>,
    schedule: Arc<Schedule>,
) -> Outcome {
    let mut outcome = Outcome::default();
    while let Some(due) = schedule.take() {
        let began = if Instant::now() < due {
            tokio::time::sleep_until(due.into()).await;
            Instant::now()
        } else {
            due
        };
        match tokio::time::timeout(REQUEST_TIMEOUT, request(&mut sender, &host)).await {
            Ok(Ok(())) => outcome.latencies.push(began.elapsed()),
            Ok(Err(_)) | Err(_) => {
                outcome.errors += 1;
                match connect(addr).await {
                    Ok(fresh) => sender = fresh,
                    Err(_) => break,
                }
            }
        }
    }
    outcome
}

/// One `GET /`, its body read to the end; `Err` unless 2xx/3xx.
async fn request(sender: &mut SendRequest<Empty<Bytes>>, host: &str) -> Result<(), String> {
    sender.ready().await.map_err(|e| e.to_string())?;
    let request = hyper::Request::get("/")
        .header(hyper::header::HOST, host)
        .body(Empty::new())
        .map_err(|e| e.to_string())?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status();
    response
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?;
    if status.is_success() || status.is_redirection() {
        Ok(())
    } else {
        Err(format!("status {status}"))
    }
}

/// Opens a keep-alive HTTP/1.1 connection to `addr`.
async fn connect(addr: SocketAddr) -> Result<SendRequest<Empty<Bytes>>, BenchError> {
    let io = |source| BenchError::Io {
        path: format!("http://{addr}/ (open-loop connection)"),
        source,
    };
    let stream = tokio::time::timeout(REQUEST_TIMEOUT, TcpStream::connect(addr))
        .await
        .map_err(|_| io(std::io::ErrorKind::TimedOut.into()))?
        .map_err(io)?;
    stream.set_nodelay(true).map_err(io)?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| io(std::io::Error::other(e)))?;
    tokio::spawn(connection);
    Ok(sender)
}
