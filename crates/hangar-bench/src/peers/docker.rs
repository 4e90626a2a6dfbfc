//! Docker: the rootfs imported with `docker import`, containers on a
//! user-defined bridge network with fixed addresses so the HTTP port can be
//! probed without an extra `docker inspect`.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::time::{Duration, Instant};

use super::command::run;
use crate::error::BenchError;
use crate::probe::wait_http;
use crate::scenarios::create_start::HTTP_TIMEOUT;
use crate::scenarios::{CreateStart, Cycles, MAX_CONSECUTIVE_FAILURES};

const IMAGE: &str = "hangar-bench-busybox:latest";
const NETWORK: &str = "hangar-bench";
const CONTAINER_PREFIX: &str = "hangar-bench-";
const HTTP_CMD: &[&str] = &["/bin/httpd", "-f", "-p", "8080", "-h", "/www"];

/// The imported image and the bench network, removed by [`Docker::teardown`].
pub struct Docker {
    memory_mb: u32,
}

impl Docker {
    /// Imports `rootfs` (packed with `tar` into `work`) as an image and
    /// creates the bench network; removes leftovers of an earlier run first.
    pub async fn setup(rootfs: &Path, work: &Path, memory_mb: u32) -> Result<Docker, BenchError> {
        let docker = Docker { memory_mb };
        docker.remove_containers().await;
        let _ = run("docker", &["network", "rm", NETWORK]).await;
        let tarball = work.join("rootfs.tar");
        let rootfs = rootfs.to_string_lossy();
        let tarball_str = tarball.to_string_lossy();
        run("tar", &["-C", &rootfs, "-cf", &tarball_str, "."]).await?;
        run("docker", &["import", &tarball_str, IMAGE]).await?;
        run(
            "docker",
            &[
                "network",
                "create",
                "--driver",
                "bridge",
                "--subnet",
                "172.27.0.0/16",
                NETWORK,
            ],
        )
        .await?;
        Ok(docker)
    }

    /// `docker run -d` of `count` httpd containers one after another, all
    /// left running until the end, then removed.
    pub async fn create_start(
        &self,
        count: usize,
        budget: Duration,
    ) -> Result<CreateStart, BenchError> {
        let mut result = CreateStart::default();
        // Warm-up, unmeasured: first use of the image and network.
        self.run_httpd("warm", container_ip(count)).await?;
        run("docker", &["rm", "-f", &format!("{CONTAINER_PREFIX}warm")]).await?;
        let began = Instant::now();
        let mut consecutive_failures = 0;
        for i in 0..count {
            if began.elapsed() > budget {
                result.failures.push(format!(
                    "stopped after {i} containers: time budget {budget:?} spent"
                ));
                break;
            }
            let ip = container_ip(i);
            let t0 = Instant::now();
            let attempt = async {
                self.run_httpd(&i.to_string(), ip).await?;
                let started = t0.elapsed();
                wait_http(SocketAddr::from((ip, 8080)), HTTP_TIMEOUT).await?;
                Ok::<_, BenchError>((started, t0.elapsed()))
            };
            match attempt.await {
                Ok((started, http)) => {
                    consecutive_failures = 0;
                    result.to_started.push(started);
                    result.to_http.push(http);
                }
                Err(e) => {
                    result.failures.push(format!("container {i}: {e}"));
                    consecutive_failures += 1;
                    if consecutive_failures >= MAX_CONSECUTIVE_FAILURES {
                        break;
                    }
                }
            }
            if (i + 1) % 50 == 0 {
                eprintln!("  docker run -d: {} of {count}", i + 1);
            }
        }
        self.remove_containers().await;
        Ok(result)
    }

    /// `docker kill` → timed `docker start`, then `docker pause` → timed
    /// `docker unpause`, `cycles` times each on one container.
    pub async fn cycles(&self, cycles: usize) -> Result<Cycles, BenchError> {
        let name = format!("{CONTAINER_PREFIX}cycles");
        let ip = container_ip(0);
        let addr = SocketAddr::from((ip, 8080));
        self.run_httpd("cycles", ip).await?;
        wait_http(addr, HTTP_TIMEOUT).await?;
        let mut result = Cycles::default();
        for i in 0..cycles {
            let cycle = async {
                run("docker", &["kill", &name]).await?;
                let t0 = Instant::now();
                run("docker", &["start", &name]).await?;
                let started = t0.elapsed();
                wait_http(addr, HTTP_TIMEOUT).await?;
                Ok::<_, BenchError>((started, t0.elapsed()))
            };
            match cycle.await {
                Ok((started, http)) => {
                    result.start.push(started);
                    result.start_http.push(http);
                }
                Err(e) => result.failures.push(format!("kill/start cycle {i}: {e}")),
            }
        }
        for i in 0..cycles {
            let cycle = async {
                run("docker", &["pause", &name]).await?;
                let t0 = Instant::now();
                run("docker", &["unpause", &name]).await?;
                let resumed = t0.elapsed();
                wait_http(addr, HTTP_TIMEOUT).await?;
                Ok::<_, BenchError>((resumed, t0.elapsed()))
            };
            match cycle.await {
                Ok((resumed, http)) => {
                    result.resume.push(resumed);
                    result.resume_http.push(http);
                }
                Err(e) => result
                    .failures
                    .push(format!("pause/unpause cycle {i}: {e}")),
            }
        }
        self.remove_containers().await;
        Ok(result)
    }

    /// Removes the containers, the network and the image.
    pub async fn teardown(self) {
        self.remove_containers().await;
        let _ = run("docker", &["network", "rm", NETWORK]).await;
        let _ = run("docker", &["rmi", "-f", IMAGE]).await;
    }

    async fn run_httpd(&self, suffix: &str, ip: Ipv4Addr) -> Result<String, BenchError> {
        let name = format!("{CONTAINER_PREFIX}{suffix}");
        let memory = format!("{}m", self.memory_mb);
        let ip = ip.to_string();
        let mut args = vec![
            "run",
            "-d",
            "--name",
            &name,
            "--network",
            NETWORK,
            "--ip",
            &ip,
            "--memory",
            &memory,
            "--cpus",
            "1",
            IMAGE,
        ];
        args.extend_from_slice(HTTP_CMD);
        run("docker", &args).await
    }

    /// Removes every container whose name starts with the bench prefix.
    async fn remove_containers(&self) {
        let filter = format!("name={CONTAINER_PREFIX}");
        let Ok(ids) = run("docker", &["ps", "-aq", "--filter", &filter]).await else {
            return;
        };
        let ids: Vec<&str> = ids.split_whitespace().collect();
        for chunk in ids.chunks(50) {
            let mut args = vec!["rm", "-f"];
            args.extend_from_slice(chunk);
            let _ = run("docker", &args).await;
        }
    }
}

/// The fixed address of container `i` on the bench network (172.27.0.0/16).
fn container_ip(i: usize) -> Ipv4Addr {
    let n = u32::try_from(i).unwrap_or(u32::MAX).saturating_add(10);
    Ipv4Addr::from(u32::from(Ipv4Addr::new(172, 27, 0, 0)) + (n % 65000))
}
