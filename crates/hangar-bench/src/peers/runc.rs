//! runc: one OCI bundle over the same rootfs (read-only, shared by all
//! containers), `runc create` + `runc start`, `runc pause`/`resume`. runc
//! sets up no network (the container gets an empty network namespace), so
//! there is no HTTP port to probe and no start-from-stopped (a stopped runc
//! container cannot be started again).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::command::{run, run_detached};
use crate::error::BenchError;
use crate::scenarios::{CreateStart, Cycles, MAX_CONSECUTIVE_FAILURES};

const CONTAINER_PREFIX: &str = "hangar-bench-";

/// A bundle directory whose config.json runs `sleep` over the shared rootfs.
pub struct Runc {
    bundle: PathBuf,
    /// Containers created and not yet deleted.
    live: Vec<String>,
}

impl Runc {
    /// Writes the bundle: `runc spec`'s defaults, without a terminal, the
    /// rootfs read-only, a memory limit of `memory_mb`.
    pub async fn setup(rootfs: &Path, work: &Path, memory_mb: u32) -> Result<Runc, BenchError> {
        let bundle = work.join("runc-bundle");
        let io = |source| BenchError::Io {
            path: bundle.display().to_string(),
            source,
        };
        std::fs::create_dir_all(&bundle).map_err(io)?;
        let _ = std::fs::remove_file(bundle.join("config.json"));
        run("runc", &["spec", "--bundle", &bundle.to_string_lossy()]).await?;
        let path = bundle.join("config.json");
        let text = std::fs::read_to_string(&path).map_err(io)?;
        let mut spec: Value =
            serde_json::from_str(&text).map_err(|e| BenchError::CommandFailed {
                command: "runc spec".into(),
                status: "unparsable config.json".into(),
                stderr: e.to_string(),
            })?;
        spec["process"]["terminal"] = json!(false);
        spec["process"]["args"] = json!(["/bin/sleep", "1000000"]);
        spec["root"] = json!({ "path": rootfs.to_string_lossy(), "readonly": true });
        spec["linux"]["resources"]["memory"] =
            json!({ "limit": u64::from(memory_mb) * 1024 * 1024 });
        std::fs::write(
            &path,
            serde_json::to_vec_pretty(&spec).expect("a JSON value serialises"),
        )
        .map_err(io)?;
        // Leftovers of an interrupted earlier run would make the names clash.
        let leftovers = run("runc", &["list", "-q"]).await.unwrap_or_default();
        let live = leftovers
            .lines()
            .filter(|id| id.starts_with(CONTAINER_PREFIX))
            .map(str::to_string)
            .collect();
        let mut runc = Runc { bundle, live };
        runc.delete_all().await;
        Ok(runc)
    }

    /// `runc create` + `runc start` of `count` containers one after
    /// another, all left running until the end, then deleted.
    pub async fn create_start(
        &mut self,
        count: usize,
        budget: Duration,
    ) -> Result<CreateStart, BenchError> {
        let mut result = CreateStart::default();
        self.start_container("warm").await?;
        self.delete_all().await;
        let began = Instant::now();
        let mut consecutive_failures = 0;
        for i in 0..count {
            if began.elapsed() > budget {
                result.failures.push(format!(
                    "stopped after {i} containers: time budget {budget:?} spent"
                ));
                break;
            }
            let t0 = Instant::now();
            match self.start_container(&i.to_string()).await {
                Ok(()) => {
                    consecutive_failures = 0;
                    result.to_started.push(t0.elapsed());
                }
                Err(e) => {
                    result.failures.push(format!("container {i}: {e}"));
                    consecutive_failures += 1;
                    if consecutive_failures >= MAX_CONSECUTIVE_FAILURES {
                        break;
                    }
                }
            }
        }
        self.delete_all().await;
        Ok(result)
    }

    /// `runc pause` → timed `runc resume`, `cycles` times on one container.
    pub async fn cycles(&mut self, cycles: usize) -> Result<Cycles, BenchError> {
        let id = self
            .start_container("cycles")
            .await
            .map(|()| format!("{CONTAINER_PREFIX}cycles"))?;
        let mut result = Cycles::default();
        for i in 0..cycles {
            let cycle = async {
                run("runc", &["pause", &id]).await?;
                let t0 = Instant::now();
                run("runc", &["resume", &id]).await?;
                Ok::<_, BenchError>(t0.elapsed())
            };
            match cycle.await {
                Ok(resumed) => result.resume.push(resumed),
                Err(e) => result.failures.push(format!("pause/resume cycle {i}: {e}")),
            }
        }
        self.delete_all().await;
        Ok(result)
    }

    /// Deletes every container this run created.
    pub async fn delete_all(&mut self) {
        for id in std::mem::take(&mut self.live) {
            let _ = run("runc", &["delete", "-f", &id]).await;
        }
    }

    async fn start_container(&mut self, suffix: &str) -> Result<(), BenchError> {
        let id = format!("{CONTAINER_PREFIX}{suffix}");
        run_detached(
            "runc",
            &["create", "--bundle", &self.bundle.to_string_lossy(), &id],
        )
        .await?;
        self.live.push(id.clone());
        run("runc", &["start", &id]).await.map(drop)
    }
}
