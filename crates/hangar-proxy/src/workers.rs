//! Connection workers: threads that each run a single-threaded tokio
//! runtime and serve the client connections handed to them.
//!
//! A listener's accept loop hands each accepted socket to the next worker,
//! round robin. The worker registers the socket with its own event loop and
//! serves the connection there to its end, together with the upstream
//! connections its requests use (the upstream pool keeps idle connections
//! per thread). Nothing of a connection's I/O then crosses threads: no work
//! stealing between runtime workers and no wake-up of one thread by another,
//! which on a busy proxy cost more CPU than the proxying itself. It is the
//! shape of nginx's worker processes, with shared route state.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::mpsc;

/// Work handed to a worker: run on the worker's runtime, it returns the
/// connection's future, which the worker spawns there.
type Job = Box<dyn FnOnce() -> Pin<Box<dyn Future<Output = ()> + Send>> + Send>;

/// A fixed set of connection worker threads. Dropping it ends them; every
/// connection they serve holds the proxy that owns them, so by then they
/// serve none.
pub(crate) struct ConnectionWorkers {
    queues: Vec<mpsc::UnboundedSender<Job>>,
    next: AtomicUsize,
}

impl ConnectionWorkers {
    /// Starts `count` worker threads named `hangar-proxy-N`.
    pub(crate) fn start(count: usize) -> std::io::Result<ConnectionWorkers> {
        let mut queues = Vec::with_capacity(count);
        for index in 0..count {
            let (queue, jobs) = mpsc::unbounded_channel::<Job>();
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            std::thread::Builder::new()
                .name(format!("hangar-proxy-{index}"))
                .spawn(move || run_worker(runtime, jobs))?;
            queues.push(queue);
        }
        Ok(ConnectionWorkers {
            queues,
            next: AtomicUsize::new(0),
        })
    }

    /// Runs `serve` on the next worker: it is called there (so the sockets
    /// it opens register with that worker's event loop) and its future is
    /// spawned there. Falls back to the caller's runtime if the worker has
    /// gone.
    pub(crate) fn spawn<F, Fut>(&self, serve: F)
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let index = self.next.fetch_add(1, Ordering::Relaxed) % self.queues.len();
        let job: Job = Box::new(move || Box::pin(serve()));
        if let Err(mpsc::error::SendError(job)) = self.queues[index].send(job) {
            tracing::warn!(
                worker = index,
                "a proxy connection worker is gone; serving on the caller's runtime"
            );
            tokio::spawn(job());
        }
    }
}

/// A worker's life: spawn each job's future until the queue closes.
fn run_worker(runtime: tokio::runtime::Runtime, mut jobs: mpsc::UnboundedReceiver<Job>) {
    runtime.block_on(async move {
        while let Some(job) = jobs.recv().await {
            tokio::spawn(job());
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The name of the thread each of `jobs` ran on, in order.
    async fn thread_names(workers: &ConnectionWorkers, jobs: usize) -> Vec<String> {
        let mut names = Vec::new();
        for _ in 0..jobs {
            let (tx, rx) = tokio::sync::oneshot::channel();
            workers.spawn(move || async move {
                let name = std::thread::current().name().unwrap_or("").to_string();
                let _ = tx.send(name);
            });
            names.push(rx.await.expect("the job ran"));
        }
        names
    }

    #[tokio::test]
    async fn connections_go_round_robin_to_the_worker_threads() {
        let workers = ConnectionWorkers::start(2).unwrap();
        let names = thread_names(&workers, 4).await;
        assert_eq!(
            names,
            [
                "hangar-proxy-0",
                "hangar-proxy-1",
                "hangar-proxy-0",
                "hangar-proxy-1"
            ]
        );
    }

    #[tokio::test]
    async fn a_socket_handed_over_is_served_on_the_worker() {
        let workers = ConnectionWorkers::start(1).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let client = tokio::spawn(async move {
            use tokio::io::AsyncReadExt;
            let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
            let mut answer = String::new();
            stream.read_to_string(&mut answer).await.unwrap();
            answer
        });
        let (accepted, _) = listener.accept().await.unwrap();
        let accepted = accepted.into_std().unwrap();
        workers.spawn(move || async move {
            use tokio::io::AsyncWriteExt;
            let mut stream = tokio::net::TcpStream::from_std(accepted).unwrap();
            let name = std::thread::current().name().unwrap_or("").to_string();
            stream.write_all(name.as_bytes()).await.unwrap();
        });
        assert_eq!(client.await.unwrap(), "hangar-proxy-0");
    }
}
