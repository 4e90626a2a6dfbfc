//! Watch streams: history replay followed by live events.
//!
//! Gap-free hand-over: the watcher subscribes to the hub *before* reading the
//! current revision `R`. Every commit is published after it is durable, so
//! anything committed before the subscription is at or below `R` and comes
//! from replay, and anything published after it reaches the subscription.
//! Live batches at or below `R` (committed before the read, published after
//! the subscription) are dropped as duplicates.

use std::collections::VecDeque;
use std::sync::Arc;

use hangar_store::{prefix_matches, Revision, StoreError, WatchEvent, WatchStream};

use crate::error::closed;
use crate::hub::Subscription;
use crate::query::{self, HistoryCursor};
use crate::readers::ReaderPool;

/// Events read from history per blocking read.
const REPLAY_PAGE: usize = 512;

/// Where a new watch starts, decided under one snapshot.
pub(crate) struct WatchStart {
    /// Revision of the snapshot: replay covers up to it, live covers after it.
    pub(crate) snapshot_revision: Revision,
    /// First revision the caller wants.
    pub(crate) from_revision: Revision,
}

/// State carried between items of one watch stream.
struct WatchState {
    readers: Arc<ReaderPool>,
    prefix: String,
    subscription: Subscription,
    /// Replay position: last history row delivered (or before the start).
    replay_cursor: HistoryCursor,
    /// Replay covers up to this revision; live events must be above it.
    live_after: Revision,
    replay_done: bool,
    /// Every matching event at or below this revision has been delivered.
    delivered_through: Revision,
    pending: VecDeque<WatchEvent>,
    finished: bool,
}

/// Builds the stream for a subscription taken before `start` was read.
pub(crate) fn watch_stream(
    readers: Arc<ReaderPool>,
    prefix: String,
    subscription: Subscription,
    start: WatchStart,
) -> WatchStream {
    let live_after = start.snapshot_revision.max(start.from_revision - 1);
    let state = WatchState {
        readers,
        prefix,
        subscription,
        replay_cursor: (start.from_revision, -1),
        live_after,
        replay_done: start.from_revision > start.snapshot_revision,
        delivered_through: start.from_revision - 1,
        pending: VecDeque::new(),
        finished: false,
    };
    Box::pin(futures_util::stream::unfold(
        state,
        |mut state| async move {
            let item = state.next_item().await?;
            Some((item, state))
        },
    ))
}

impl WatchState {
    async fn next_item(&mut self) -> Option<Result<WatchEvent, StoreError>> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                self.delivered_through = self.delivered_through.max(event.kv.mod_revision);
                return Some(Ok(event));
            }
            if self.finished {
                return None;
            }
            if !self.replay_done {
                if let Err(err) = self.replay_page().await {
                    self.finished = true;
                    return Some(Err(err));
                }
                continue;
            }
            match self.subscription.receiver.recv().await {
                Some(batch) => {
                    let live = batch.iter().filter(|event| {
                        event.kv.mod_revision > self.live_after
                            && prefix_matches(&self.prefix, &event.kv.key)
                    });
                    self.pending.extend(live.cloned());
                }
                None => {
                    self.finished = true;
                    let error = if self.subscription.lagged() {
                        let resume_revision = self.delivered_through.max(self.live_after) + 1;
                        StoreError::WatchLagged { resume_revision }
                    } else {
                        closed()
                    };
                    return Some(Err(error));
                }
            }
        }
    }

    /// Loads the next page of history into `pending`, or marks replay done.
    async fn replay_page(&mut self) -> Result<(), StoreError> {
        let readers = self.readers.clone();
        let prefix = self.prefix.clone();
        let cursor = self.replay_cursor;
        let upto = self.live_after;
        let page = tokio::task::spawn_blocking(move || {
            readers.read(|conn| {
                let compact_revision = query::meta(conn, "compact_revision")?;
                // Rows still to deliver are at or after the cursor's revision.
                if cursor.0 < compact_revision {
                    return Err(StoreError::Compacted { compact_revision });
                }
                query::history_page(conn, &prefix, cursor, upto, REPLAY_PAGE)
            })
        })
        .await
        .map_err(|err| StoreError::Backend(format!("watch replay task failed: {err}")))??;
        match page.last() {
            Some((last, _)) => self.replay_cursor = *last,
            None => self.replay_done = true,
        }
        if page.len() < REPLAY_PAGE {
            self.replay_done = true;
        }
        self.pending
            .extend(page.into_iter().map(|(_, event)| event));
        Ok(())
    }
}
