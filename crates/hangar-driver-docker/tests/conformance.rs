//! The driver conformance suite against the Docker driver, on this host's
//! Docker Engine. Without a reachable daemon (or without busybox to build the
//! test image from) every test prints SKIPPED and passes.

mod common;

hangar_driver::conformance_tests!(common::setup);
