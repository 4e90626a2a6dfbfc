//! In-process fan-out of committed events to live watchers.
//!
//! The writer publishes each committed revision's events once, after the
//! commit. Every subscriber has a bounded queue counted in revisions; a
//! subscriber whose queue is full is dropped on the spot (flagged as lagged)
//! rather than making the writer wait.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use hangar_store::{prefix_matches, WatchEvent};
use tokio::sync::mpsc;

/// All events of one committed revision, shared by every subscriber.
pub(crate) type RevisionBatch = Arc<Vec<WatchEvent>>;

/// The set of live watch subscriptions.
#[derive(Default)]
pub(crate) struct WatchHub {
    state: Mutex<HubState>,
}

#[derive(Default)]
struct HubState {
    next_id: u64,
    closed: bool,
    subscribers: HashMap<u64, Subscriber>,
}

struct Subscriber {
    prefix: String,
    sender: mpsc::Sender<RevisionBatch>,
    lagged: Arc<AtomicBool>,
}

/// The receiving end of one subscription; unsubscribes when dropped.
pub(crate) struct Subscription {
    hub: Arc<WatchHub>,
    id: u64,
    /// Batches touching the subscribed prefix, in commit order.
    pub(crate) receiver: mpsc::Receiver<RevisionBatch>,
    lagged: Arc<AtomicBool>,
}

impl Subscription {
    /// True if the hub dropped this subscriber because its queue was full.
    pub(crate) fn lagged(&self) -> bool {
        self.lagged.load(Ordering::Acquire)
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.hub.lock().subscribers.remove(&self.id);
    }
}

impl WatchHub {
    fn lock(&self) -> MutexGuard<'_, HubState> {
        // A panic while holding this lock leaves the map itself consistent.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Registers a subscriber for `prefix` with room for `capacity` revisions.
    /// Returns None once the hub is closed.
    pub(crate) fn subscribe(
        self: &Arc<Self>,
        prefix: &str,
        capacity: usize,
    ) -> Option<Subscription> {
        let (sender, receiver) = mpsc::channel(capacity.max(1));
        let lagged = Arc::new(AtomicBool::new(false));
        let mut state = self.lock();
        if state.closed {
            return None;
        }
        let id = state.next_id;
        state.next_id += 1;
        state.subscribers.insert(
            id,
            Subscriber {
                prefix: prefix.to_string(),
                sender,
                lagged: lagged.clone(),
            },
        );
        Some(Subscription {
            hub: self.clone(),
            id,
            receiver,
            lagged,
        })
    }

    /// Delivers one committed revision to every subscriber it concerns,
    /// without ever waiting on a subscriber.
    pub(crate) fn publish(&self, batch: RevisionBatch) {
        let mut state = self.lock();
        state.subscribers.retain(|_, subscriber| {
            let concerned = batch
                .iter()
                .any(|event| prefix_matches(&subscriber.prefix, &event.kv.key));
            if !concerned {
                return true;
            }
            match subscriber.sender.try_send(batch.clone()) {
                Ok(()) => true,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    subscriber.lagged.store(true, Ordering::Release);
                    false
                }
                Err(mpsc::error::TrySendError::Closed(_)) => false,
            }
        });
    }

    /// Ends every subscription (their streams report the store closed) and
    /// refuses new ones.
    pub(crate) fn close(&self) {
        let mut state = self.lock();
        state.closed = true;
        state.subscribers.clear();
    }
}
