//! Which builder runs a build: the one asked for, or the best one available.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use crate::error::BuildError;

/// The builder a request asks for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum BuilderChoice {
    /// Docker when its daemon answers, else buildah when installed, else native.
    #[default]
    Auto,
    Docker,
    Buildah,
    Native,
}

/// The builder that ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuilderKind {
    Docker,
    Buildah,
    Native,
}

impl fmt::Display for BuilderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BuilderKind::Docker => "docker",
            BuilderKind::Buildah => "buildah",
            BuilderKind::Native => "native",
        })
    }
}

impl FromStr for BuilderChoice {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "auto" | "" => Ok(BuilderChoice::Auto),
            "docker" => Ok(BuilderChoice::Docker),
            "buildah" => Ok(BuilderChoice::Buildah),
            "native" => Ok(BuilderChoice::Native),
            other => Err(format!(
                "unknown builder {other:?}: use docker, buildah, native or auto"
            )),
        }
    }
}

/// The `buildah` executable on `PATH`, if any.
pub(crate) fn buildah_path() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("buildah"))
        .find(|candidate| candidate.is_file())
}

/// Resolves `choice` to a builder that can run here. `FROM host`
/// Dockerfiles (`host_base`) go to the native builder under `Auto`.
pub(crate) async fn choose(
    choice: BuilderChoice,
    host_base: bool,
) -> Result<BuilderKind, BuildError> {
    match choice {
        BuilderChoice::Native => Ok(BuilderKind::Native),
        BuilderChoice::Docker => match crate::docker::connect().await {
            Ok(_) => Ok(BuilderKind::Docker),
            Err(reason) => Err(BuildError::BuilderUnavailable {
                builder: "docker".into(),
                reason,
            }),
        },
        BuilderChoice::Buildah => match buildah_path() {
            Some(_) => Ok(BuilderKind::Buildah),
            None => Err(BuildError::BuilderUnavailable {
                builder: "buildah".into(),
                reason: "buildah is not on PATH; install it (apt-get install buildah)".into(),
            }),
        },
        BuilderChoice::Auto => {
            if host_base {
                Ok(BuilderKind::Native)
            } else if crate::docker::connect().await.is_ok() {
                Ok(BuilderKind::Docker)
            } else if buildah_path().is_some() {
                Ok(BuilderKind::Buildah)
            } else {
                Ok(BuilderKind::Native)
            }
        }
    }
}
