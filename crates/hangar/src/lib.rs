//! The `hangar` binary's library half: how the roles are assembled into a
//! running platform ([`platform`]) and the bundled example app ([`example`]).

pub mod agent_api;
pub mod certificate_report;
pub mod edge;
pub mod example;
pub mod platform;
pub mod proxy_host;
pub mod proxy_role;
pub mod remote_control;
pub mod route_follow;
pub mod route_state;
