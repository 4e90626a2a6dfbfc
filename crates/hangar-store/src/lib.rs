//! The state store of Hangar: a revisioned key-value store with watch.
//!
//! The model follows etcd v3 so that an etcd backend maps onto it one to one:
//!
//! - One global [`Revision`] counter. Every transaction that writes something
//!   increments it by exactly one; all writes of that transaction share the new
//!   revision. Transactions that only read (or whose deletes matched nothing)
//!   leave it unchanged.
//! - Each live key carries a `create_revision`, a `mod_revision` and a
//!   `version` (number of puts since creation). Deleting removes the key;
//!   putting it again starts a new life with version 1.
//! - [`Store::watch`] from a revision replays history and then streams live
//!   events, with no gap and no duplicate between the two.
//! - [`Store::compact`] discards history before a revision; a watch from a
//!   compacted revision fails with [`StoreError::Compacted`] and the caller is
//!   expected to re-list and watch from the list's revision + 1.
//!
//! Backends: `hangar-store-sqlite` (embedded default). Every backend must pass
//! [`conformance`] (cargo feature `conformance`).

mod error;
mod json;
mod kv;
mod store;
mod txn;
mod watch;

#[cfg(feature = "conformance")]
pub mod conformance;

pub use error::StoreError;
pub use json::{Conflict, StoreExt};
pub use kv::{prefix_matches, KeyValue, ListResult, Revision};
pub use store::Store;
pub use txn::{Compare, Op, OpResult, Txn, TxnResponse};
pub use watch::{WatchEvent, WatchEventKind, WatchStream};
