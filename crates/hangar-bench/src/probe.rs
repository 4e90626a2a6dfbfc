//! Bounded polling: until an HTTP server answers, until a condition holds.

use std::future::Future;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::error::BenchError;

/// How often a condition is re-checked.
const POLL_INTERVAL: Duration = Duration::from_millis(2);

/// Waits until `check` returns `Ok`, at most `timeout`.
pub async fn poll_until<T, F, Fut>(
    what: &str,
    timeout: Duration,
    mut check: F,
) -> Result<T, BenchError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        let last = match check().await {
            Ok(v) => return Ok(v),
            Err(e) => e,
        };
        if Instant::now() >= deadline {
            return Err(BenchError::WaitTimeout {
                what: what.to_string(),
                timeout,
                last,
            });
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// Waits until an HTTP server at `addr` answers `GET /` with any status line.
pub async fn wait_http(addr: SocketAddr, timeout: Duration) -> Result<(), BenchError> {
    poll_until(&format!("http://{addr}/ to answer"), timeout, || {
        http_answers(addr)
    })
    .await
}

/// One `GET /` over HTTP/1.0; `Ok` when a status line comes back.
async fn http_answers(addr: SocketAddr) -> Result<(), String> {
    let attempt = async {
        let mut stream = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
        stream
            .write_all(b"GET / HTTP/1.0\r\nHost: bench\r\n\r\n")
            .await
            .map_err(|e| e.to_string())?;
        let mut head = [0u8; 12];
        let n = stream.read(&mut head).await.map_err(|e| e.to_string())?;
        if head[..n].starts_with(b"HTTP/") {
            Ok(())
        } else {
            Err(format!(
                "unexpected answer {:?}",
                String::from_utf8_lossy(&head[..n])
            ))
        }
    };
    tokio::time::timeout(Duration::from_millis(500), attempt)
        .await
        .map_err(|_| "no answer within 500ms".to_string())?
}
