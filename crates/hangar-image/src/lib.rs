//! A content-addressed store of OCI images for the agent and the process driver.
//!
//! [`ImageStore::resolve`] turns an image reference into a [`ResolvedImage`]: the image's
//! runtime config and its layers, each unpacked once into its own read-only directory,
//! ready to be stacked with overlayfs (whiteouts are converted, see [`overlay`]).
//!
//! References:
//! - registry names (`nginx`, `docker.io/library/x:tag`, `127.0.0.1:5000/app:v1`,
//!   `repo@sha256:…`), pulled over the OCI distribution API: HTTPS, or plain HTTP for
//!   loopback registries and those listed in `HANGAR_INSECURE_REGISTRIES`; anonymous,
//!   bearer-token or basic auth (`HANGAR_REGISTRY_AUTH="host=USER:PASSWORD,…"`);
//! - `oci:PATH[:TAG]`: an OCI image layout directory;
//! - `oci-archive:PATH[:TAG]`: a tar of an OCI image layout;
//! - `docker-archive:PATH[:TAG]`: a `docker save` tarball.
//!
//! Every blob is checked against its sha256 digest, and every layer against its diff ID.
//! [`layout::write_oci_layout`] builds images from a directory without Docker;
//! [`push::push_oci_layout`] uploads an OCI layout to a registry.

mod blobs;
mod config;
mod digest;
mod error;
mod layers;
pub mod layout;
pub mod overlay;
mod pull;
pub mod push;
mod reference;
mod refs;
mod scratch;
mod source;
mod spec;
mod store;
mod unpack;
mod xattr;

pub use config::ImageConfig;
pub use error::ImageError;
pub use reference::INSECURE_REGISTRIES_ENV;
pub use source::registry::REGISTRY_AUTH_ENV;
pub use store::{ImageStore, ResolvedImage};
