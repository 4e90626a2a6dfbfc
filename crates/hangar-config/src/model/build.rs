//! `[build]`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

/// How the app image is built or which prebuilt image is deployed.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Build {
    /// Cloud Native Buildpacks builder image.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub builder: Option<String>,
    /// Build arguments (not available at runtime).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub args: BTreeMap<String, String>,
    /// Buildpacks to use with `builder`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub buildpacks: Vec<String>,
    /// Prebuilt image to deploy (no build).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Builtin builder settings.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub settings: BTreeMap<String, serde_json::Value>,
    /// Builtin builder name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub builtin: Option<String>,
    /// Dockerfile path or URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dockerfile: Option<String>,
    /// Ignore file path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ignorefile: Option<String>,
    /// Docker build stage (`build-target`; legacy `build_target`).
    #[serde(rename = "build-target", skip_serializing_if = "Option::is_none")]
    pub build_target: Option<String>,
    /// Docker compose build (`[build.compose]`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compose: Option<Compose>,
    /// Image layer compression: `gzip` or `zstd`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compression: Option<String>,
    /// Compression level 0–9.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compression_level: Option<i64>,
}

/// `[build.compose]`.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Compose {
    /// Compose file; when empty a well-known name next to fly.toml is used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
}

/// File names looked for when `[build.compose]` names no file, in order.
pub const COMPOSE_FILE_NAMES: [&str; 4] = [
    "compose.yaml",
    "compose.yml",
    "docker-compose.yaml",
    "docker-compose.yml",
];

impl Build {
    /// How many distinct build strategies are configured (more than one only warns).
    pub fn strategy_count(&self) -> usize {
        [
            self.image.is_some(),
            self.builder.is_some() || !self.buildpacks.is_empty(),
            self.builtin.is_some(),
            self.dockerfile.is_some(),
        ]
        .into_iter()
        .filter(|set| *set)
        .count()
    }

    /// The compose file to use: the explicit one, else the first well-known file present in `dir`.
    /// `None` when there is no `[build.compose]` or nothing was found.
    pub fn detect_compose_file(&self, dir: &Path) -> Option<PathBuf> {
        let compose = self.compose.as_ref()?;
        if let Some(file) = compose.file.as_deref().filter(|f| !f.is_empty()) {
            return Some(PathBuf::from(file));
        }
        COMPOSE_FILE_NAMES
            .iter()
            .map(|name| dir.join(name))
            .find(|candidate| candidate.is_file())
            .map(|found| PathBuf::from(found.file_name().unwrap_or_default()))
    }
}
