//! What every Machine actor of an agent shares.

use std::net::Ipv4Addr;
use std::sync::Arc;

use hangar_driver::Driver;
use hangar_image::{ImageStore, ResolvedImage};
use hangar_types::ImageRef;
use tokio::sync::{mpsc, watch};

use crate::ledger::Ledger;
use crate::logs::LogBook;
use crate::network::Subnets;
use crate::volumes::VolumeStorage;

/// Things an actor tells the agent.
#[derive(Debug)]
pub enum Notice {
    /// A Machine failed: its standbys should start.
    Failed(String),
    /// A destroyed Machine's address can be reused.
    AddressFree(Ipv4Addr),
}

/// The agent's shared parts.
pub struct Shared {
    pub driver: Arc<dyn Driver>,
    pub images: Arc<ImageStore>,
    pub ledger: Ledger,
    pub logs: LogBook,
    pub volumes: VolumeStorage,
    pub subnets: Subnets,
    /// Whether Machines get their own network namespace and addresses.
    pub isolated: bool,
    pub notices: mpsc::UnboundedSender<Notice>,
    /// Bumped after every published change of any Machine's record, for
    /// watchers of the whole host (the proxy's route table).
    pub changes: watch::Sender<u64>,
    /// The secrets injected into every Machine's environment at launch.
    pub secrets: crate::secrets::SecretSource,
}

impl Shared {
    /// Tells host-wide watchers that some Machine's record changed.
    pub fn announce_change(&self) {
        self.changes.send_modify(|generation| *generation += 1);
    }
}

/// The API's view of a resolved image.
pub fn image_ref(image: &ResolvedImage) -> ImageRef {
    ImageRef {
        registry: image.registry.clone(),
        repository: image.repository.clone(),
        tag: image.tag.clone().unwrap_or_default(),
        digest: image.digest.clone(),
        labels: image.config.labels.clone().into_iter().collect(),
    }
}
