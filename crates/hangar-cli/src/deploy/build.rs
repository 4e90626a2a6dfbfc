//! `hangar deploy` without an image: build the Dockerfile next to fly.toml
//! (docker, buildah or the native builder), push the result to the
//! platform's built-in registry as `<api-host>/<app>:deployment-<ULID>` with
//! the platform token, and hand back the image by digest
//! (`<api-host>/<app>@sha256:…`) so a moved tag never changes a release.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use hangar_build::{BuildRequest, BuilderChoice};
use hangar_image::push::RegistryLogin;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::context::Context;
use crate::error::CliError;

/// Environment variable overriding the build context limit (bytes).
pub const CONTEXT_LIMIT_ENV: &str = "HANGAR_BUILD_CONTEXT_LIMIT";

/// Build flags of `hangar deploy` (fly.toml's `[build]` gives the defaults).
#[derive(Debug, Default, Clone, Args)]
pub struct BuildArgs {
    /// Builder: docker, buildah or native [default: [build] builder, else the best available]
    #[arg(long, value_name = "BUILDER", value_parser = parse_builder)]
    pub builder: Option<BuilderChoice>,
    /// Build argument NAME=VALUE (repeatable; over [build.args])
    #[arg(long = "build-arg", value_name = "NAME=VALUE", value_parser = parse_pair)]
    pub build_arg: Vec<(String, String)>,
    /// Dockerfile stage to build [default: [build] build-target, else the last]
    #[arg(long, value_name = "STAGE")]
    pub build_target: Option<String>,
    /// Dockerfile to build [default: [build] dockerfile, else ./Dockerfile]
    #[arg(long, value_name = "PATH")]
    pub dockerfile: Option<PathBuf>,
    /// Label NAME=VALUE added to the image (repeatable)
    #[arg(long = "image-label", value_name = "NAME=VALUE", value_parser = parse_pair)]
    pub image_label: Vec<(String, String)>,
}

fn parse_builder(value: &str) -> Result<BuilderChoice, String> {
    value.parse()
}

fn parse_pair(value: &str) -> Result<(String, String), String> {
    match value.split_once('=') {
        Some((name, v)) if !name.trim().is_empty() => Ok((name.trim().to_string(), v.to_string())),
        _ => Err(format!("{value:?} is not NAME=VALUE")),
    }
}

/// The build request for the project around fly.toml: the context is
/// fly.toml's directory; flags win over `[build]`.
pub(crate) fn request(
    project_dir: &Path,
    config: &hangar_config::Config,
    args: &BuildArgs,
    output_dir: &Path,
    tag: &str,
) -> anyhow::Result<BuildRequest> {
    let section = config.build.clone().unwrap_or_default();
    let mut request = BuildRequest::new(project_dir, output_dir);
    request.tag = tag.to_string();
    request.builder = match (args.builder, section.builder.as_deref()) {
        (Some(choice), _) => choice,
        (None, Some(name)) => name.parse().map_err(|why: String| {
            CliError::InvalidArguments(format!("fly.toml [build] builder: {why}"))
        })?,
        (None, None) => BuilderChoice::Auto,
    };
    request.dockerfile = args
        .dockerfile
        .clone()
        .or_else(|| section.dockerfile.as_ref().map(PathBuf::from))
        .map(|path| {
            if path.is_absolute() {
                path
            } else {
                project_dir.join(path)
            }
        });
    request.build_args = section.args.clone();
    request.build_args.extend(args.build_arg.iter().cloned());
    request.target = args.build_target.clone().or(section.build_target.clone());
    request.labels = args.image_label.iter().cloned().collect::<BTreeMap<_, _>>();
    if let Some(limit) = context_limit_from_env()? {
        request.context_limit = limit;
    }
    Ok(request)
}

/// `HANGAR_BUILD_CONTEXT_LIMIT`: the largest build context in bytes
/// (default 2 GiB).
fn context_limit_from_env() -> anyhow::Result<Option<u64>> {
    match std::env::var(CONTEXT_LIMIT_ENV) {
        Ok(value) => value.trim().parse().map(Some).map_err(|_| {
            CliError::InvalidArguments(format!(
                "{CONTEXT_LIMIT_ENV}={value:?} is not a number of bytes"
            ))
            .into()
        }),
        Err(_) => Ok(None),
    }
}

/// The registry's `host:port`: the API URL's authority.
pub(crate) fn registry_host(api_url: &str) -> anyhow::Result<String> {
    let rest = api_url
        .split_once("://")
        .map(|(_, rest)| rest)
        .unwrap_or(api_url);
    let host = rest.split('/').next().unwrap_or_default();
    if host.is_empty() {
        anyhow::bail!("cannot tell the registry's host from the API URL {api_url:?}");
    }
    Ok(host.to_string())
}

/// Builds the project, pushes it to the built-in registry and returns the
/// image to deploy by digest. Nothing is created on the platform when the
/// build fails.
pub(crate) async fn build_and_push(
    ctx: &Context,
    app: &str,
    config: &hangar_config::Config,
    args: &BuildArgs,
) -> anyhow::Result<String> {
    let credentials = ctx.credentials()?;
    let config_path = ctx.config_path();
    let project_dir = config_path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let scratch = tempfile::tempdir()
        .map_err(|err| anyhow::anyhow!("cannot create a directory for the build: {err}"))?;
    let tag = format!("deployment-{}", ulid::Ulid::new());
    let mut request = request(
        &project_dir,
        config,
        args,
        &scratch.path().join("image"),
        &tag,
    )?;
    let progress = Progress::new("building");
    let sink = progress.clone();
    request.on_output = Some(Arc::new(move |line: &str| sink.line(line)));
    let built = match hangar_build::build(&request).await {
        Ok(built) => built,
        Err(err) => {
            progress.finish();
            return Err(anyhow::anyhow!("build failed, nothing deployed: {err}"));
        }
    };
    progress.line(&format!(
        "built {} with the {} builder",
        built.manifest_digest, built.builder_used
    ));
    let host = registry_host(&credentials.api_url)?;
    let target = format!("{host}/{app}:{tag}");
    progress.message(&format!("pushing {target}"));
    let login = RegistryLogin {
        user: "hangar".into(),
        password: credentials.token.clone(),
    };
    let pushed =
        hangar_image::push::push_oci_layout(&built.layout_dir, &target, Some(&login)).await;
    progress.finish();
    let digest = pushed.map_err(|err| {
        anyhow::anyhow!("cannot push the image to the platform's registry at {host}: {err}")
    })?;
    ctx.output.note(format_args!("Pushed {target} ({digest})"));
    Ok(format!("{host}/{app}@{digest}"))
}

/// Build output: a spinner over the lines on a terminal, plain lines when
/// piped or with `NO_COLOR`. Always on stderr.
#[derive(Clone)]
struct Progress(Option<ProgressBar>);

impl Progress {
    fn new(message: &str) -> Self {
        let fancy = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        if !fancy {
            eprintln!("==> {message}");
            return Progress(None);
        }
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{spinner} {elapsed:>4} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.enable_steady_tick(Duration::from_millis(120));
        bar.set_message(message.to_string());
        Progress(Some(bar))
    }

    fn line(&self, line: &str) {
        match &self.0 {
            Some(bar) => bar.println(line),
            None => eprintln!("{line}"),
        }
    }

    fn message(&self, message: &str) {
        match &self.0 {
            Some(bar) => bar.set_message(message.to_string()),
            None => eprintln!("==> {message}"),
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_host_is_the_api_authority() {
        assert_eq!(
            registry_host("http://127.0.0.1:4280").unwrap(),
            "127.0.0.1:4280"
        );
        assert_eq!(
            registry_host("https://api.example.test/").unwrap(),
            "api.example.test"
        );
    }

    #[test]
    fn flags_win_over_the_build_section() {
        let config = hangar_config::Config {
            build: Some(hangar_config::model::Build {
                builder: Some("docker".into()),
                args: BTreeMap::from([("A".into(), "1".into()), ("B".into(), "2".into())]),
                dockerfile: Some("Other.Dockerfile".into()),
                build_target: Some("prod".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let args = BuildArgs {
            builder: Some(BuilderChoice::Native),
            build_arg: vec![("B".into(), "3".into())],
            ..Default::default()
        };
        let req = request(Path::new("/p"), &config, &args, Path::new("/o"), "t").unwrap();
        assert_eq!(req.builder, BuilderChoice::Native);
        assert_eq!(req.build_args["A"], "1");
        assert_eq!(req.build_args["B"], "3");
        assert_eq!(req.dockerfile, Some(PathBuf::from("/p/Other.Dockerfile")));
        assert_eq!(req.target.as_deref(), Some("prod"));
    }
}
