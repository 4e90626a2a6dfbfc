//! Containers left behind by a crash: an agent that dies between creating a
//! Machine's container and recording its handle never learns the
//! container's ID, and a Machine destroyed while the agent was down leaves
//! its container too. At start-up the agent asks the driver to remove every
//! container carrying its owner label whose Machine it does not have.

use std::collections::{HashMap, HashSet};
use std::future::Future;

use bollard::query_parameters::ListContainersOptionsBuilder;
use hangar_driver::DriverError;

use crate::handle::HandleData;
use crate::DockerDriver;

impl DockerDriver {
    /// Removes this owner's containers whose Machine is not among those
    /// `known` returns (the agent's Machines, in any state but destroyed),
    /// saying so in the log; returns the Machine IDs whose containers went.
    ///
    /// The containers are listed before `known` is asked, so a Machine
    /// created meanwhile (recorded by the agent before its container exists)
    /// is never mistaken for a leftover.
    pub async fn remove_unknown_containers<F, Fut>(
        &self,
        known: F,
    ) -> Result<Vec<String>, DriverError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = HashSet<String>>,
    {
        let owner_filter = format!("{}={}", crate::OWNER_LABEL, self.config.owner);
        let options = ListContainersOptionsBuilder::default()
            .all(true)
            .filters(&HashMap::from([("label", vec![owner_filter.as_str()])]))
            .build();
        let listed = self
            .docker
            .list_containers(Some(options))
            .await
            .map_err(|e| crate::client::daemon_error("list containers", &e))?;
        let known = known().await;
        let mut removed = Vec::new();
        for container in listed {
            let (Some(id), Some(labels)) = (container.id, container.labels) else {
                continue;
            };
            let machine = labels
                .get(crate::MACHINE_LABEL)
                .cloned()
                .unwrap_or_default();
            if known.contains(&machine) {
                continue;
            }
            let network = container
                .network_settings
                .and_then(|n| n.networks)
                .and_then(|n| {
                    n.into_keys()
                        .find(|name| name.starts_with(&format!("{}-", self.config.network_prefix)))
                });
            tracing::warn!(
                machine = %machine,
                container = %id,
                "removing a leftover Docker container of a Machine this agent does not have \
                 (created before a crash and never recorded, or destroyed while the agent was down)"
            );
            self.remove(&HandleData {
                container_id: id,
                network,
            })
            .await?;
            removed.push(machine);
        }
        Ok(removed)
    }
}
