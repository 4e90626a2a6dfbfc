//! The single writer thread.
//!
//! All writes go through one connection on one thread. Requests that queue up
//! while a commit is in flight are applied together in the next SQLite
//! transaction (group commit), each under its own savepoint and its own store
//! revision, so one fsync covers many writes. Callers get their answer and
//! watchers get the events only after the commit is durable.

use std::sync::mpsc::{Receiver, TryRecvError};
use std::sync::Arc;

use hangar_store::{Revision, StoreError, Txn, TxnResponse, WatchEvent};
use rusqlite::Connection;
use tokio::sync::oneshot;

use crate::apply::{apply_compact, apply_txn};
use crate::error::sqlite_error;
use crate::hub::WatchHub;

/// Most requests folded into one SQLite transaction.
const MAX_GROUP: usize = 256;

/// A request to the writer thread.
pub(crate) enum WriteRequest {
    /// Run a (validated) transaction.
    Txn {
        txn: Txn,
        reply: oneshot::Sender<Result<TxnResponse, StoreError>>,
    },
    /// Discard history before a revision.
    Compact {
        revision: Revision,
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
}

/// What one request produced inside the group, before the commit.
enum Outcome {
    Txn {
        reply: oneshot::Sender<Result<TxnResponse, StoreError>>,
        result: Result<(TxnResponse, Vec<WatchEvent>), StoreError>,
    },
    Compact {
        reply: oneshot::Sender<Result<(), StoreError>>,
        result: Result<(), StoreError>,
    },
}

/// Closes the hub when the writer stops, even by panic, so watchers learn
/// the store is gone instead of waiting forever.
struct CloseHubOnExit(Arc<WatchHub>);

impl Drop for CloseHubOnExit {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// Automatic history compaction: keep the last `retain` revisions, checked
/// every `every` revisions.
pub(crate) struct AutoCompact {
    pub(crate) retain: Revision,
    pub(crate) every: Revision,
}

/// Serves requests until every sender is gone, then closes the hub.
pub(crate) fn run(
    mut conn: Connection,
    requests: Receiver<WriteRequest>,
    hub: Arc<WatchHub>,
    auto_compact: Option<AutoCompact>,
) {
    let _close_hub = CloseHubOnExit(hub.clone());
    let mut last_auto_compact: Revision = 0;
    while let Ok(first) = requests.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match requests.try_recv() {
                Ok(request) => group.push(request),
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
            }
        }
        let Some(revision) = commit_group(&mut conn, group, &hub) else {
            continue;
        };
        if let Some(policy) = &auto_compact {
            if revision - last_auto_compact >= policy.every {
                last_auto_compact = revision;
                compact_history(&mut conn, revision - policy.retain);
            }
        }
    }
}

/// Compacts to `revision` in its own transaction; failures are only logged
/// because the next check retries.
fn compact_history(conn: &mut Connection, revision: Revision) {
    if revision <= 0 {
        return;
    }
    let result = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(|err| sqlite_error("starting automatic compaction", err))
        .and_then(|tx| {
            apply_compact(&tx, revision)?;
            tx.commit()
                .map_err(|err| sqlite_error("committing automatic compaction", err))
        });
    if let Err(err) = result {
        tracing::warn!(revision, error = %err, "automatic history compaction failed");
    }
}

/// Applies and commits one group; returns the store revision after it if the
/// commit succeeded.
fn commit_group(
    conn: &mut Connection,
    group: Vec<WriteRequest>,
    hub: &WatchHub,
) -> Option<Revision> {
    let tx = match conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(err) => {
            let error = sqlite_error("starting a write transaction", err);
            for request in group {
                fail(request, error.clone());
            }
            return None;
        }
    };
    let mut outcomes = Vec::with_capacity(group.len());
    for request in group {
        outcomes.push(apply_in_savepoint(&tx, request));
    }
    if let Err(err) = tx.commit() {
        let error = sqlite_error("committing a write transaction", err);
        for outcome in outcomes {
            match outcome {
                Outcome::Txn { reply, .. } => drop(reply.send(Err(error.clone()))),
                Outcome::Compact { reply, .. } => drop(reply.send(Err(error.clone()))),
            }
        }
        return None;
    }
    let mut revision = None;
    for outcome in outcomes {
        match outcome {
            Outcome::Txn { reply, result } => {
                let result = result.map(|(response, events)| {
                    revision = revision.max(Some(response.revision));
                    if !events.is_empty() {
                        hub.publish(Arc::new(events));
                    }
                    response
                });
                // The caller may have given up waiting; the write stands.
                drop(reply.send(result));
            }
            Outcome::Compact { reply, result } => drop(reply.send(result)),
        }
    }
    revision
}

/// Applies one request under a savepoint so its failure leaves the rest of
/// the group intact.
fn apply_in_savepoint(conn: &Connection, request: WriteRequest) -> Outcome {
    let begin = conn.execute_batch("SAVEPOINT request");
    match request {
        WriteRequest::Txn { txn, reply } => {
            let result = begin
                .map_err(|err| sqlite_error("opening a savepoint", err))
                .and_then(|()| apply_txn(conn, &txn));
            let result = finish_savepoint(conn, result);
            Outcome::Txn { reply, result }
        }
        WriteRequest::Compact { revision, reply } => {
            let result = begin
                .map_err(|err| sqlite_error("opening a savepoint", err))
                .and_then(|()| apply_compact(conn, revision));
            let result = finish_savepoint(conn, result);
            Outcome::Compact { reply, result }
        }
    }
}

fn finish_savepoint<T>(conn: &Connection, result: Result<T, StoreError>) -> Result<T, StoreError> {
    let end = if result.is_ok() {
        "RELEASE request"
    } else {
        "ROLLBACK TO request; RELEASE request"
    };
    match conn.execute_batch(end) {
        Ok(()) => result,
        Err(err) => Err(sqlite_error("closing a savepoint", err)),
    }
}

fn fail(request: WriteRequest, error: StoreError) {
    match request {
        WriteRequest::Txn { reply, .. } => drop(reply.send(Err(error))),
        WriteRequest::Compact { reply, .. } => drop(reply.send(Err(error))),
    }
}
