//! Start-from-stopped and resume-from-suspended latency of one HTTP Machine.

use std::time::Instant;

use hangar_types::MachineState;

use super::create_start::HTTP_TIMEOUT;
use super::{Cycles, MAX_CONSECUTIVE_FAILURES};
use crate::error::BenchError;
use crate::platform::{http_addr, BenchPlatform};
use crate::probe::wait_http;

/// Runs `cycles` stop→start cycles, then `cycles` suspend→resume cycles, on
/// one Machine; only the start and the resume are timed.
pub async fn run(
    platform: &BenchPlatform,
    cycles: usize,
    memory_mb: u32,
) -> Result<Cycles, BenchError> {
    let machine = platform
        .create(BenchPlatform::config(&platform.http_image, memory_mb))
        .await?;
    platform
        .wait_state(&machine.id, MachineState::Started)
        .await?;
    let id = machine.id.clone();
    let addr = http_addr(&machine).ok_or_else(|| BenchError::WaitTimeout {
        what: "a private IPv4 address".into(),
        timeout: HTTP_TIMEOUT,
        last: format!("machine {id} has none"),
    })?;
    wait_http(addr, HTTP_TIMEOUT).await?;
    let mut result = Cycles::default();

    let mut consecutive_failures = 0;
    for i in 0..cycles {
        let cycle = async {
            platform
                .client
                .stop_machine(crate::platform::APP, &id, None)
                .await
                .map_err(BenchError::api("stop"))?;
            platform.wait_state(&id, MachineState::Stopped).await?;
            let t0 = Instant::now();
            platform
                .client
                .start_machine(crate::platform::APP, &id)
                .await
                .map_err(BenchError::api("start"))?;
            platform.wait_state(&id, MachineState::Started).await?;
            let started = t0.elapsed();
            wait_http(addr, HTTP_TIMEOUT).await?;
            Ok::<_, BenchError>((started, t0.elapsed()))
        };
        match cycle.await {
            Ok((started, http)) => {
                consecutive_failures = 0;
                result.start.push(started);
                result.start_http.push(http);
            }
            Err(e) => {
                result.failures.push(format!("stop/start cycle {i}: {e}"));
                consecutive_failures += 1;
                if consecutive_failures >= MAX_CONSECUTIVE_FAILURES {
                    break;
                }
            }
        }
    }

    let mut consecutive_failures = 0;
    for i in 0..cycles {
        let cycle = async {
            platform
                .client
                .suspend_machine(crate::platform::APP, &id)
                .await
                .map_err(BenchError::api("suspend"))?;
            platform.wait_state(&id, MachineState::Suspended).await?;
            let t0 = Instant::now();
            platform
                .client
                .start_machine(crate::platform::APP, &id)
                .await
                .map_err(BenchError::api("resume"))?;
            platform.wait_state(&id, MachineState::Started).await?;
            let resumed = t0.elapsed();
            wait_http(addr, HTTP_TIMEOUT).await?;
            Ok::<_, BenchError>((resumed, t0.elapsed()))
        };
        match cycle.await {
            Ok((resumed, http)) => {
                consecutive_failures = 0;
                result.resume.push(resumed);
                result.resume_http.push(http);
            }
            Err(e) => {
                result
                    .failures
                    .push(format!("suspend/resume cycle {i}: {e}"));
                consecutive_failures += 1;
                if consecutive_failures >= MAX_CONSECUTIVE_FAILURES {
                    break;
                }
            }
        }
    }
    platform.destroy(&id).await?;
    Ok(result)
}
