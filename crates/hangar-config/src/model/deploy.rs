//! `[deploy]`.

use serde::Serialize;

use super::Compute;
use crate::units::GoDuration;

/// Deploy settings.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Deploy {
    /// Command run in a temporary Machine before the new release rolls out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub release_command: Option<String>,
    /// Limit for the release command (default 5m).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub release_command_timeout: Option<GoDuration>,
    /// Guest of the release command Machine.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub release_command_vm: Option<Compute>,
    /// `rolling` (default), `immediate`, `canary` or `bluegreen`. Kept as text so a bad value loads
    /// and is reported by validation, as flyctl does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strategy: Option<String>,
    /// Rolling/canary parallelism: ≥1 absolute, (0,1) a fraction.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_unavailable: Option<f64>,
    /// Per-Machine wait for state/health (default 5m).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wait_timeout: Option<GoDuration>,
    /// Command run once by launch after the release command.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed_command: Option<String>,
}

/// The deploy strategies flyctl accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeployStrategy {
    /// Replace Machines a few at a time (default).
    Rolling,
    /// Replace every Machine at once.
    Immediate,
    /// One canary Machine first, then rolling.
    Canary,
    /// Start a full green set, switch, then stop the blue set.
    Bluegreen,
}

impl DeployStrategy {
    /// Every accepted spelling.
    pub const NAMES: [&'static str; 4] = ["rolling", "immediate", "canary", "bluegreen"];

    /// Parses a strategy name.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "rolling" => Some(Self::Rolling),
            "immediate" => Some(Self::Immediate),
            "canary" => Some(Self::Canary),
            "bluegreen" => Some(Self::Bluegreen),
            _ => None,
        }
    }
}
