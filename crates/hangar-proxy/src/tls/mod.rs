//! TLS termination: SNI picks a certificate from a [`CertStore`], then the
//! decrypted connection goes through the same HTTP pipeline as plain HTTP.
//!
//! Certificates come, in this order, from:
//! 1. the operator's directory of PEM pairs, `<hostname>.crt` (the chain,
//!    leaf first) and `<hostname>.key`; a wildcard `*.example.com` is
//!    stored as `_wildcard.example.com.crt` / `_wildcard.example.com.key`
//!    and covers exactly one label;
//! 2. certificates the ACME manager obtained for custom domains;
//! 3. a self-signed certificate made on first use for `<app>.<app_domain>`
//!    when the app is in the current route table (kept in memory, and on
//!    disk when the store has a self-signed directory);
//!
//! any other name has its handshake refused.

mod resolver;
mod self_signed;
mod serve;
mod store;

pub(crate) use store::{load_pair, StoredCert};
pub use store::{CertStore, CertStoreError};
