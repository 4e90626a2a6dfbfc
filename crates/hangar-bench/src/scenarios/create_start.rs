//! Create+start latency: N Machines from a cached image, one after another,
//! all left running until the end, then destroyed.

use std::time::{Duration, Instant};

use hangar_types::MachineState;

use super::{CreateStart, MAX_CONSECUTIVE_FAILURES};
use crate::error::BenchError;
use crate::platform::{http_addr, BenchPlatform};
use crate::probe::wait_http;

/// How long a new Machine's HTTP port may take to answer.
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(20);

/// Creates `count` HTTP Machines of `memory_mb` sequentially (stopping early
/// after `budget`), then destroys them. A first, unmeasured Machine warms
/// the image cache.
pub async fn run(
    platform: &BenchPlatform,
    count: usize,
    memory_mb: u32,
    budget: Duration,
) -> Result<CreateStart, BenchError> {
    let config = || BenchPlatform::config(&platform.http_image, memory_mb);
    let warm = platform.create(config()).await?;
    platform.wait_state(&warm.id, MachineState::Started).await?;
    if let Some(addr) = http_addr(&warm) {
        wait_http(addr, HTTP_TIMEOUT).await?;
    }
    platform.destroy(&warm.id).await?;

    let mut result = CreateStart::default();
    let mut ids = Vec::with_capacity(count);
    let mut consecutive_failures = 0;
    let began = Instant::now();
    for i in 0..count {
        if began.elapsed() > budget {
            result.failures.push(format!(
                "stopped after {i} Machines: time budget {budget:?} spent"
            ));
            break;
        }
        let t0 = Instant::now();
        let attempt = async {
            let machine = platform.create_started(config()).await?;
            let to_started = t0.elapsed();
            let to_http = match http_addr(&machine) {
                Some(addr) => {
                    wait_http(addr, HTTP_TIMEOUT).await?;
                    Some(t0.elapsed())
                }
                None => None,
            };
            Ok::<_, BenchError>((machine.id, to_started, to_http))
        };
        match attempt.await {
            Ok((id, to_started, to_http)) => {
                consecutive_failures = 0;
                ids.push(id);
                result.to_started.push(to_started);
                if let Some(d) = to_http {
                    result.to_http.push(d);
                }
            }
            Err(e) => {
                result.failures.push(format!("machine {i}: {e}"));
                consecutive_failures += 1;
                if consecutive_failures >= MAX_CONSECUTIVE_FAILURES {
                    break;
                }
            }
        }
        if (i + 1) % 50 == 0 {
            eprintln!("  hangar create+start: {} of {count}", i + 1);
        }
    }
    let (_, errors) = platform.destroy_all().await?;
    result
        .failures
        .extend(errors.into_iter().map(|e| format!("cleanup: {e}")));
    Ok(result)
}
