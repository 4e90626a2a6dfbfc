//! Real peers measured in the same run on the same busybox root filesystem:
//! the Docker engine (`docker import` of the rootfs) and runc.

pub mod command;
pub mod docker;
pub mod runc;
