//! Removing loaded images no Machine uses any more.
//!
//! Every start pins its image with the tag [`pin_tag`] of its Machine
//! (`hangar.local/used-by:<machine id>`, moved to the new image when the
//! Machine starts from another one). The pin lives in the daemon, so it
//! outlives the Machine's container (removed when it stops) and the agent
//! (a restarted agent's driver finds it again).
//!
//! A sweep ([`DockerDriver::sweep_images`], periodic with
//! [`DockerDriver::spawn_image_sweeper`]; [`DockerDriver::sweep_images_with_grace`]
//! to choose the grace) first drops the pins of Machines the agent no longer
//! has, then removes an image this driver loaded (its [`crate::OWNER_LABEL`]
//! is the driver's owner) once, for at least the grace period, no container
//! has used it, no pin has kept it, and no start was between loading it and
//! creating its container (starts and sweeps exclude each other).

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bollard::query_parameters::{
    ListContainersOptionsBuilder, ListImagesOptionsBuilder, RemoveImageOptionsBuilder,
    TagImageOptionsBuilder,
};
use hangar_driver::{DriverError, MachineSpec};

use crate::client::{daemon_error, is_not_found, message, status_of};
use crate::image::IMAGE_REPOSITORY;
use crate::DockerDriver;

/// The repository of the tags that pin a Machine's image.
const PIN_REPOSITORY: &str = "hangar.local/used-by";

/// The tag that keeps the image `machine_id` last started from.
pub fn pin_tag(machine_id: &str) -> String {
    format!("{PIN_REPOSITORY}:{machine_id}")
}

/// What keeps loaded images in use besides their pins.
#[derive(Default)]
pub(crate) struct ImageUse {
    /// Held shared by a start from loading its image until its container
    /// exists, exclusively by a sweep.
    pub starting: tokio::sync::RwLock<()>,
    /// When a sweep first saw each of the driver's images unused.
    unused_since: Mutex<HashMap<String, Instant>>,
}

impl ImageUse {
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
    /// Pins `image` (a loaded tag) as the one `spec`'s Machine starts from,
    /// moving the Machine's pin off any image it used before. Call with
    /// [`ImageUse::starting`] held.
    pub(crate) async fn pin_image(
        &self,
        spec: &MachineSpec,
        image: &str,
    ) -> Result<(), DriverError> {
        let options = TagImageOptionsBuilder::default()
            .repo(PIN_REPOSITORY)
            .tag(&spec.machine_id)
            .build();
        self.docker
            .tag_image(image, Some(options))
            .await
            .map_err(|e| {
                if is_not_found(&e) {
                    // Removed behind the driver's back: the next start loads it again.
                    self.images.forget(image);
                }
                DriverError::StartFailed {
                    machine_id: spec.machine_id.clone(),
                    reason: format!(
                        "Docker refused to tag image {image} as {}: {}",
                        pin_tag(&spec.machine_id),
                        message(&e)
                    ),
                }
            })
    }

    /// Removes this driver's loaded images that nothing has used for the
    /// configured grace period ([`crate::DockerDriverConfig::image_grace`]);
    /// see [`DockerDriver::sweep_images_with_grace`].
    pub async fn sweep_images(&self, known: &HashSet<String>) -> Result<Vec<String>, DriverError> {
        self.sweep_images_with_grace(known, self.config.image_grace)
            .await
    }

    /// Sweeps now: drops the pins of Machines not in `known` (the IDs of the
    /// Machines the agent has, in any state), then removes this driver's
    /// loaded images that no container uses and no pin keeps once a sweep
    /// has seen them unused for `grace` (see the module docs). Returns the
    /// loaded tags removed.
    pub async fn sweep_images_with_grace(
        &self,
        known: &HashSet<String>,
        grace: Duration,
    ) -> Result<Vec<String>, DriverError> {
        let _no_start_in_between = self.image_use.starting.write().await;
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
        let containers = self
            .docker
            .list_containers(Some(
                ListContainersOptionsBuilder::default().all(true).build(),
            ))
            .await
            .map_err(|e| daemon_error("list containers", &e))?;
        // A Machine with a container is live even if `known` was taken before it was created.
        let machines_with_containers: HashSet<String> = containers
            .iter()
            .filter_map(|c| c.labels.as_ref()?.get(crate::MACHINE_LABEL).cloned())
            .collect();
        let in_containers: HashSet<String> = containers
            .into_iter()
            .flat_map(|c| [c.image_id, c.image])
            .flatten()
            .collect();
        let now = Instant::now();
        let mut unused = HashSet::new();
        let mut removed = Vec::new();
        for image in ours {
            let mut pinned = false;
            for pin in image.repo_tags.iter() {
                let Some(machine) = pin.strip_prefix(&format!("{PIN_REPOSITORY}:")) else {
                    continue;
                };
                if known.contains(machine) || machines_with_containers.contains(machine) {
                    pinned = true;
                } else {
                    self.unpin(pin).await;
                }
            }
            let tags: Vec<&String> = image
                .repo_tags
                .iter()
                .filter(|t| t.starts_with(&format!("{IMAGE_REPOSITORY}:")))
                .collect();
            let used = pinned
                || in_containers.contains(&image.id)
                || tags.iter().any(|t| in_containers.contains(*t));
            if used {
                continue;
            }
            for tag in tags {
                unused.insert(tag.clone());
                if !self.image_use.unused_for(tag, grace, now) {
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

    /// Drops the pin of a Machine the agent no longer has (the image itself
    /// goes only if this was its last tag and nothing uses it).
    async fn unpin(&self, pin: &str) {
        let options = RemoveImageOptionsBuilder::default().force(false).build();
        match self.docker.remove_image(pin, Some(options), None).await {
            Ok(_) => tracing::info!(%pin, "dropped the image pin of a destroyed Machine"),
            Err(e) if is_not_found(&e) || status_of(&e) == Some(409) => {}
            Err(e) => tracing::warn!(%pin, error = %message(&e), "cannot drop an image pin"),
        }
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
