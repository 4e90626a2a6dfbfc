//! Bounded waits and small helpers shared by the cases.

use std::future::Future;
use std::time::Duration;

use futures_util::StreamExt;

use crate::{Revision, Store, WatchEvent, WatchStream};

/// Upper bound on any single wait in the suite (an event, a task).
pub const WAIT: Duration = Duration::from_secs(20);

/// Awaits `future`, panicking with `what` if it takes longer than [`WAIT`].
pub(crate) async fn bounded<T>(what: &str, future: impl Future<Output = T>) -> T {
    match tokio::time::timeout(WAIT, future).await {
        Ok(value) => value,
        Err(_) => panic!("timed out after {WAIT:?} waiting for {what}"),
    }
}

/// The next event of `stream`; panics on error, end of stream or timeout.
pub(crate) async fn next_event(stream: &mut WatchStream) -> WatchEvent {
    match bounded("a watch event", stream.next()).await {
        Some(Ok(event)) => event,
        Some(Err(err)) => panic!("watch stream failed: {err}"),
        None => panic!("watch stream ended unexpectedly"),
    }
}

/// The next `count` events of `stream` (each wait bounded).
pub(crate) async fn next_events(stream: &mut WatchStream, count: usize) -> Vec<WatchEvent> {
    let mut events = Vec::with_capacity(count);
    while events.len() < count {
        events.push(next_event(stream).await);
    }
    events
}

/// Proves nothing more is pending on `stream`: writes a marker key under
/// `marker_prefix` (which the stream watches) and expects it as the very
/// next event.
pub(crate) async fn expect_only_marker_next<S: Store>(
    store: &S,
    stream: &mut WatchStream,
    marker_key: &str,
) -> Revision {
    let revision = store.put(marker_key, b"marker".to_vec()).await.unwrap();
    let event = next_event(stream).await;
    assert_eq!(
        (event.kv.key.as_str(), event.kv.mod_revision),
        (marker_key, revision),
        "expected the marker write as the next event, got {event:?}"
    );
    revision
}

/// `(key, mod_revision)` of each event, for compact assertions.
pub(crate) fn keys_and_revisions(events: &[WatchEvent]) -> Vec<(String, Revision)> {
    events
        .iter()
        .map(|event| (event.kv.key.clone(), event.kv.mod_revision))
        .collect()
}
