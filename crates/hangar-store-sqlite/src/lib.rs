//! Embedded SQLite backend of the Hangar state store ([`hangar_store::Store`]).
//!
//! One database file holds the current key-value state, the global revision
//! counter and the event history used to replay watches; see [`SqliteStore`].
//!
//! ```no_run
//! # async fn demo() -> Result<(), hangar_store::StoreError> {
//! use hangar_store::Store;
//! let store = hangar_store_sqlite::SqliteStore::open(std::path::Path::new("/var/lib/hangar/state.db"))?;
//! let revision = store.put("/apps/web", b"{}".to_vec()).await?;
//! # let _ = revision; Ok(()) }
//! ```
//!
//! Benchmark (puts/s, concurrent puts with group commit, CAS retry loop):
//! `cargo run --release -p hangar-store-sqlite --example bench`
//! (see `examples/bench.rs`; numbers are printed, never asserted).

mod apply;
mod error;
mod hub;
mod lock;
mod query;
mod readers;
mod schema;
mod store;
mod watch;
mod writer;

pub use store::{SqliteStore, SqliteStoreOptions};
