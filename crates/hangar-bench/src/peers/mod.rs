//! Real peers measured in the same run: the Docker engine (`docker import`
//! of the rootfs) and runc on the same busybox root filesystem, and nginx
//! and HAProxy in front of the same backend as the Hangar proxy.

pub mod command;
pub mod docker;
pub mod haproxy;
pub mod nginx;
pub mod runc;
pub mod server;
