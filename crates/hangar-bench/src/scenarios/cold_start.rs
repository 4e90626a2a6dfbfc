//! Cold start through the edge proxy: the backend Machine is stopped (or
//! suspended) through the API, then one request is sent to the proxy, which
//! autostarts (or resumes) the Machine; timed from connecting to the proxy
//! until the first byte of the answer.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use hangar_types::MachineState;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::proxy::EdgeSetup;
use super::MAX_CONSECUTIVE_FAILURES;
use crate::edge::BenchEdge;
use crate::error::BenchError;
use crate::platform::{BenchPlatform, APP};
use crate::stats::Samples;

/// How long one cold request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the proxy's route table may lag the API.
const ROUTE_TIMEOUT: Duration = Duration::from_secs(15);

/// First-byte latencies of requests that woke the Machine.
#[derive(Debug, Default)]
pub struct ColdStart {
    /// From stopped.
    pub from_stopped: Samples,
    /// From suspended.
    pub from_suspended: Samples,
    pub failures: Vec<String>,
}

/// Runs `cycles` stop → request cycles, then `cycles` suspend → request
/// cycles, on the setup's Machine.
pub async fn run(platform: &BenchPlatform, setup: &EdgeSetup, cycles: usize) -> ColdStart {
    let mut result = ColdStart::default();
    for (asleep, samples) in [
        (MachineState::Stopped, &mut result.from_stopped),
        (MachineState::Suspended, &mut result.from_suspended),
    ] {
        let mut consecutive_failures = 0;
        for i in 0..cycles {
            match cycle(platform, setup, asleep).await {
                Ok(latency) => {
                    consecutive_failures = 0;
                    samples.push(latency);
                }
                Err(e) => {
                    result.failures.push(format!("{asleep} cycle {i}: {e}"));
                    consecutive_failures += 1;
                    if consecutive_failures >= MAX_CONSECUTIVE_FAILURES {
                        break;
                    }
                }
            }
        }
    }
    result
}

/// Puts the Machine into `asleep` (untimed), waits until the proxy sees it
/// so, then times one request through the proxy.
async fn cycle(
    platform: &BenchPlatform,
    setup: &EdgeSetup,
    asleep: MachineState,
) -> Result<Duration, BenchError> {
    let id = &setup.machine_id;
    if asleep == MachineState::Suspended {
        platform
            .client
            .suspend_machine(APP, id)
            .await
            .map_err(BenchError::api("suspend"))?;
    } else {
        platform
            .client
            .stop_machine(APP, id, None)
            .await
            .map_err(BenchError::api("stop"))?;
    }
    platform.wait_state(id, asleep).await?;
    setup
        .edge
        .wait_route_state(id, asleep, ROUTE_TIMEOUT)
        .await?;
    let latency = first_byte(setup.edge.addr, &BenchEdge::host_of(APP)).await?;
    // The next cycle must find it started again.
    platform.wait_state(id, MachineState::Started).await?;
    Ok(latency)
}

/// Time from connecting to `addr` and sending `GET /` until the first bytes
/// of a 2xx answer arrive.
pub async fn first_byte(addr: SocketAddr, host: &str) -> Result<Duration, BenchError> {
    let failed = |what: String| BenchError::WaitTimeout {
        what: format!("a first byte from the proxy at {addr}"),
        timeout: REQUEST_TIMEOUT,
        last: what,
    };
    let t0 = Instant::now();
    let exchange = async {
        let mut stream = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        stream
            .set_nodelay(true)
            .map_err(|e| format!("nodelay: {e}"))?;
        let request = format!("GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        stream
            .write_all(request.as_bytes())
            .await
            .map_err(|e| format!("write: {e}"))?;
        let mut head = [0u8; 64];
        let n = stream
            .read(&mut head)
            .await
            .map_err(|e| format!("read: {e}"))?;
        let elapsed = t0.elapsed();
        let text = String::from_utf8_lossy(&head[..n]).to_string();
        if text.starts_with("HTTP/1.1 2") || (n < 10 && text.starts_with("HTTP")) {
            Ok(elapsed)
        } else {
            Err(format!("answered {:?}", text.lines().next().unwrap_or("")))
        }
    };
    match tokio::time::timeout(REQUEST_TIMEOUT, exchange).await {
        Ok(Ok(elapsed)) => Ok(elapsed),
        Ok(Err(what)) => Err(failed(what)),
        Err(_) => Err(failed("no answer".into())),
    }
}
