//! Removing loaded images no Machine uses any more.
//!
//! A sweep ([`DockerDriver::sweep_images`], periodic with
//! [`DockerDriver::spawn_image_sweeper`]) removes an image this driver loaded
//! (its [`crate::OWNER_LABEL`] is the driver's owner) once, for at least
//! [`crate::DockerDriverConfig::image_grace`], no container has used it, no
//! Machine the agent still has last started from it, and no start was
//! between loading it and creating its container (starts and sweeps exclude
//! each other). Which image a stopped Machine last used is known only since
//! the driver started: after an agent restart such an image goes once the
//! grace has passed, and the Machine's next start loads it again.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bollard::query_parameters::{
    ListContainersOptionsBuilder, ListImagesOptionsBuilder, RemoveImageOptionsBuilder,
};
use hangar_driver::DriverError;

use crate::client::{daemon_error, is_not_found, message, status_of};
use crate::image::IMAGE_REPOSITORY;
use crate::DockerDriver;

/// What keeps loaded images in use.
#[derive(Default)]
pub(crate) struct ImageUse {
    /// Held shared by a start from loading its image until its container
    /// exists, exclusively by a sweep.
    pub starting: tokio::sync::RwLock<()>,
    /// The image tag each Machine last started from.
    by_machine: Mutex<HashMap<String, String>>,
    /// When a sweep first saw each of the driver's images unused.
    unused_since: Mutex<HashMap<String, Instant>>,
}

impl ImageUse {
    /// Records that `machine_id` starts from `tag`.
    pub fn record(&self, machine_id: &str, tag: &str) {
        if let Ok(mut map) = self.by_machine.lock() {
            map.insert(machine_id.to_owned(), tag.to_owned());
        }
    }

    /// Forgets Machines the agent no longer has; returns the tags the others use.
    fn tags_of_known(&self, known: &HashSet<String>) -> HashSet<String> {
        let Ok(mut map) = self.by_machine.lock() else {
            return HashSet::new();
        };
        map.retain(|machine, _| known.contains(machine));
        map.values().cloned().collect()
    }

    /// Whether `tag` has been unused for `grace` (starting the clock if it was not running).
    fn unused_for(&self, tag: &str, grace: Duration, now: Instant) -> bool {
        let Ok(mut since) = self.unused_since.lock() else {
            return false;
        };
        let first_seen = *since.entry(tag.to_owned()).or_insert(now);
        now.duration_since(first_seen) >= grace
    }

    /// Stops the unused clocks of every tag but `unused`.
    fn keep_clocks_of(&self, unused: &HashSet<String>) {
        if let Ok(mut since) = self.unused_since.lock() {
            since.retain(|tag, _| unused.contains(tag));
        }
    }
}

impl DockerDriver {
    /// Removes this driver's loaded images that nothing has used for the
    /// grace period (see the module docs); `known` holds the IDs of the
    /// Machines the agent has, in any state. Returns the tags removed.
    pub async fn sweep_images(&self, known: &HashSet<String>) -> Result<Vec<String>, DriverError> {
        let _no_start_in_between = self.image_use.starting.write().await;
        let kept_by_machines = self.image_use.tags_of_known(known);
        let owner_filter = format!("{}={}", crate::OWNER_LABEL, self.config.owner);
        let ours = self
            .docker
            .list_images(Some(
                ListImagesOptionsBuilder::default()
                    .filters(&HashMap::from([("label", vec![owner_filter.as_str()])]))
                    .build(),
            ))
            .await
            .map_err(|e| daemon_error("list images", &e))?;
        let in_containers: HashSet<String> = self
            .docker
            .list_containers(Some(
                ListContainersOptionsBuilder::default().all(true).build(),
            ))
            .await
            .map_err(|e| daemon_error("list containers", &e))?
            .into_iter()
            .flat_map(|c| [c.image_id, c.image])
            .flatten()
            .collect();
        let now = Instant::now();
        let mut unused = HashSet::new();
        let mut removed = Vec::new();
        for image in ours {
            let tags: Vec<&String> = image
                .repo_tags
                .iter()
                .filter(|t| t.starts_with(&format!("{IMAGE_REPOSITORY}:")))
                .collect();
            let used = in_containers.contains(&image.id)
                || tags
                    .iter()
                    .any(|t| in_containers.contains(*t) || kept_by_machines.contains(*t));
            if used {
                continue;
            }
            for tag in tags {
                unused.insert(tag.clone());
                if !self.image_use.unused_for(tag, self.config.image_grace, now) {
                    continue;
                }
                let options = RemoveImageOptionsBuilder::default().force(false).build();
                match self.docker.remove_image(tag, Some(options), None).await {
                    Ok(_) => {
                        tracing::info!(%tag, "removed a Docker image no Machine uses any more");
                        self.images.forget(tag);
                        unused.remove(tag);
                        removed.push(tag.clone());
                    }
                    Err(e) if is_not_found(&e) => {
                        self.images.forget(tag);
                        unused.remove(tag);
                    }
                    // 409: a container (not ours) uses it; it stays.
                    Err(e) if status_of(&e) == Some(409) => {}
                    Err(e) => {
                        tracing::warn!(%tag, error = %message(&e), "cannot remove an unused Docker image")
                    }
                }
            }
        }
        self.image_use.keep_clocks_of(&unused);
        Ok(removed)
    }

    /// Runs [`DockerDriver::sweep_images`] every `every`, asking `known` for
    /// the agent's Machine IDs each time, until the task is aborted.
    pub fn spawn_image_sweeper<F, Fut>(
        self: &Arc<Self>,
        every: Duration,
        known: F,
    ) -> tokio::task::JoinHandle<()>
    where
        F: Fn() -> Fut + Send + 'static,
        Fut: Future<Output = HashSet<String>> + Send,
    {
        let driver = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(every);
            ticker.tick().await;
            loop {
                ticker.tick().await;
                let Some(driver) = driver.upgrade() else {
                    return;
                };
                let known = known().await;
                if let Err(err) = driver.sweep_images(&known).await {
                    tracing::warn!(%err, "sweeping unused Docker images failed");
                }
            }
        })
    }
}
