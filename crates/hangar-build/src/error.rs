//! What can go wrong in a build, each with what to do about it.

use std::path::PathBuf;

use crate::dockerfile::ParseError;

/// A failed build. Nothing is left in the output directory.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// There is no Dockerfile where the request says.
    #[error("no Dockerfile at {}: create one, or point --dockerfile at it", .0.display())]
    MissingDockerfile(PathBuf),
    /// The build context directory does not exist.
    #[error("the build context {} is not a directory", .0.display())]
    MissingContext(PathBuf),
    /// A line of the Dockerfile cannot be parsed or run; the message names it.
    #[error("broken Dockerfile line: {0}")]
    Dockerfile(#[from] ParseError),
    /// An instruction needs a builder that can execute commands.
    #[error("{file}:{line}: {keyword} needs a builder that can run commands, and the native builder cannot; use --builder docker (a reachable Docker daemon) or --builder buildah (buildah installed), or remove the {keyword} step")]
    NeedsExecution {
        file: PathBuf,
        line: usize,
        keyword: String,
    },
    /// The base image could not be pulled or read.
    #[error("{file}:{line}: cannot use base image {image:?}: {reason}")]
    BaseImage {
        file: PathBuf,
        line: usize,
        image: String,
        reason: String,
    },
    /// The build context is larger than allowed.
    #[error("the build context {} holds {size} bytes, over the limit of {limit} bytes; list what the image does not need in .dockerignore", .context.display())]
    ContextTooLarge {
        context: PathBuf,
        size: u64,
        limit: u64,
    },
    /// The requested builder cannot run here.
    #[error("the {builder} builder is not available: {reason}")]
    BuilderUnavailable { builder: String, reason: String },
    /// The Docker or buildah build itself failed.
    #[error("the {builder} build failed: {message}")]
    BuilderFailed { builder: String, message: String },
    /// `--target` names no stage.
    #[error(
        "--target {0:?} names no stage of the Dockerfile (stages are named with FROM … AS <name>)"
    )]
    UnknownTarget(String),
    /// Reading the context or writing the image failed.
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    /// The image layout could not be written.
    #[error("writing the image: {0}")]
    Image(#[from] hangar_image::ImageError),
}

impl BuildError {
    pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> BuildError {
        let what = what.into();
        move |source| BuildError::Io { what, source }
    }

    /// Shorthand for a Dockerfile error at `line`.
    pub(crate) fn line(file: &std::path::Path, line: usize, message: impl Into<String>) -> Self {
        BuildError::Dockerfile(ParseError {
            path: file.to_path_buf(),
            line,
            message: message.into(),
        })
    }
}
