//! The `hangar` binary's library half: how the roles are assembled into a
//! running platform ([`platform`]) and the bundled example app ([`example`]).

pub mod edge;
pub mod example;
pub mod platform;
