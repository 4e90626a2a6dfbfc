//! One Machine: its record, its state machine and the actor that drives it.

pub mod actor;
pub mod checks;
pub mod launch;
pub mod lifecycle;
pub mod record;
pub mod restart;
pub mod schedule;
