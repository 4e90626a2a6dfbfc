//! Builds an OCI image layout from a directory with a Dockerfile.
//!
//! Three builders, one result ([`BuiltImage`], an OCI image layout the agent
//! resolves as `oci:<dir>:<tag>`):
//! - **native** ([`BuilderKind::Native`]), always there, no daemon: `FROM
//!   scratch`, `FROM <image>` (pulled through `hangar-image`), `FROM host`
//!   (see [`host`]); COPY/ADD of local files, ENV, ARG, WORKDIR, USER, EXPOSE,
//!   LABEL, CMD, ENTRYPOINT, STOPSIGNAL, HEALTHCHECK, SHELL, VOLUME. RUN is
//!   refused with a message naming the builders that can run it. The same
//!   input gives the same manifest digest.
//! - **docker**, through the Engine API on the local socket (bollard): full
//!   Dockerfile support; the image is exported and converted.
//! - **buildah**, through its command line.
//!
//! [`BuilderChoice::Auto`] takes docker when its daemon answers, else buildah
//! when installed, else native; a Dockerfile `FROM host` always goes native.

mod archive;
mod buildah;
mod context;
mod docker;
pub mod dockerfile;
pub mod dockerignore;
mod error;
pub mod host;
mod layout;
mod native;
mod select;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

pub use error::BuildError;
pub use select::{BuilderChoice, BuilderKind};

/// Receives build output, one line at a time.
pub type OutputFn = Arc<dyn Fn(&str) + Send + Sync>;

/// Default limit on the build context size: 2 GiB.
pub const DEFAULT_CONTEXT_LIMIT: u64 = 2 << 30;

/// What to build and where to put it.
#[derive(Clone)]
pub struct BuildRequest {
    /// The build context: the directory COPY and ADD read from.
    pub context_dir: PathBuf,
    /// The Dockerfile; `None` means `<context_dir>/Dockerfile`.
    pub dockerfile: Option<PathBuf>,
    pub builder: BuilderChoice,
    /// `--build-arg NAME=VALUE`.
    pub build_args: BTreeMap<String, String>,
    /// The stage to build (`--target`); `None` builds the last one.
    pub target: Option<String>,
    /// Labels added to the image (`--image-label`), over the Dockerfile's.
    pub labels: BTreeMap<String, String>,
    /// The OCI layout directory to write; replaced if it exists.
    pub output_dir: PathBuf,
    /// The tag inside the layout's index.json.
    pub tag: String,
    /// Largest build context accepted, checked before any work.
    pub context_limit: u64,
    /// Timestamp of the image and its files (seconds since the epoch); `None`
    /// reads `SOURCE_DATE_EPOCH`, else 0.
    pub source_date_epoch: Option<u64>,
    /// Where base images are pulled to; `None` uses `$HANGAR_BUILD_IMAGES`,
    /// else `~/.cache/hangar/build-images`.
    pub image_store: Option<hangar_image::ImageStore>,
    /// Build output lines (Docker's stream, buildah's output, native steps).
    pub on_output: Option<OutputFn>,
}

impl BuildRequest {
    /// A request with defaults: `<context>/Dockerfile`, automatic builder,
    /// tag `latest`, 2 GiB context limit.
    pub fn new(context_dir: impl Into<PathBuf>, output_dir: impl Into<PathBuf>) -> BuildRequest {
        BuildRequest {
            context_dir: context_dir.into(),
            dockerfile: None,
            builder: BuilderChoice::Auto,
            build_args: BTreeMap::new(),
            target: None,
            labels: BTreeMap::new(),
            output_dir: output_dir.into(),
            tag: "latest".into(),
            context_limit: DEFAULT_CONTEXT_LIMIT,
            source_date_epoch: None,
            image_store: None,
            on_output: None,
        }
    }

    /// The Dockerfile path this request uses.
    pub fn dockerfile_path(&self) -> PathBuf {
        self.dockerfile
            .clone()
            .unwrap_or_else(|| self.context_dir.join("Dockerfile"))
    }

    pub(crate) fn say(&self, line: &str) {
        if let Some(output) = &self.on_output {
            output(line);
        }
    }

    pub(crate) fn epoch(&self) -> u64 {
        self.source_date_epoch
            .or_else(|| {
                std::env::var("SOURCE_DATE_EPOCH")
                    .ok()
                    .and_then(|v| v.trim().parse().ok())
            })
            .unwrap_or(0)
    }
}

impl std::fmt::Debug for BuildRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BuildRequest")
            .field("context_dir", &self.context_dir)
            .field("dockerfile", &self.dockerfile)
            .field("builder", &self.builder)
            .field("build_args", &self.build_args)
            .field("target", &self.target)
            .field("labels", &self.labels)
            .field("output_dir", &self.output_dir)
            .field("tag", &self.tag)
            .field("context_limit", &self.context_limit)
            .field("source_date_epoch", &self.source_date_epoch)
            .finish_non_exhaustive()
    }
}

/// A built image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltImage {
    /// The OCI image layout directory.
    pub layout_dir: PathBuf,
    /// The tag of the image inside the layout.
    pub tag: String,
    /// Digest (`sha256:…`) of the image manifest.
    pub manifest_digest: String,
    pub builder_used: BuilderKind,
}

impl BuiltImage {
    /// The reference `hangar-image` (and so the agent) resolves: `oci:<dir>:<tag>`.
    pub fn reference(&self) -> String {
        format!("oci:{}:{}", self.layout_dir.display(), self.tag)
    }
}

/// True when the Dockerfile starts a stage `FROM host`, which only the
/// native builder knows.
fn uses_host_base(dockerfile: &std::path::Path) -> bool {
    std::fs::read_to_string(dockerfile)
        .ok()
        .and_then(|text| dockerfile::parse(dockerfile, &text).ok())
        .is_some_and(|df| df.stages.iter().any(|s| s.base == "host"))
}

/// Builds the image `request` describes.
///
/// Checked before any work: the context exists and is within
/// `context_limit`, and the Dockerfile exists. The layout is written to a
/// scratch directory and moved into place only when complete.
pub async fn build(request: &BuildRequest) -> Result<BuiltImage, BuildError> {
    if !request.context_dir.is_dir() {
        return Err(BuildError::MissingContext(request.context_dir.clone()));
    }
    let dockerfile = request.dockerfile_path();
    if !dockerfile.is_file() {
        return Err(BuildError::MissingDockerfile(dockerfile));
    }
    context::check_size(&request.context_dir, request.context_limit)?;
    let host_base = uses_host_base(&dockerfile);
    let kind = select::choose(request.builder, host_base).await?;
    if host_base && kind != BuilderKind::Native {
        return Err(BuildError::BuilderUnavailable {
            builder: kind.to_string(),
            reason: "the Dockerfile builds FROM host, which only the native builder knows; use --builder native".into(),
        });
    }
    request.say(&format!("building with the {kind} builder"));

    let scratch = layout::Scratch::beside(&request.output_dir)?;
    let digest = match kind {
        BuilderKind::Native => native::build(request, &dockerfile, scratch.path()).await?,
        BuilderKind::Docker => docker::build(request, &dockerfile, scratch.path()).await?,
        BuilderKind::Buildah => buildah::build(request, &dockerfile, scratch.path()).await?,
    };
    scratch.move_to(&request.output_dir)?;
    Ok(BuiltImage {
        layout_dir: request.output_dir.clone(),
        tag: request.tag.clone(),
        manifest_digest: digest,
        builder_used: kind,
    })
}
