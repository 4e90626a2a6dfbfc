//! `hangar config save`: writes the fly.toml the app's latest complete
//! release was deployed from to the config path, so that a checkout that
//! lost or never had the file gets the config that runs.

use std::path::Path;

use anyhow::Context as _;
use hangar_types::{Release, ReleaseStatus};

use crate::context::Context;
use crate::fleet;

/// The latest complete release that kept its fly.toml.
fn deployed(releases: &[Release]) -> Option<&Release> {
    releases
        .iter()
        .filter(|r| r.status == ReleaseStatus::Complete && !r.fly_toml.trim().is_empty())
        .max_by_key(|r| r.version)
}

/// `fly_toml` naming `app` (a deploy with `--app` may have come from a
/// file without `app = …`); comments and layout are kept.
fn with_app(fly_toml: &str, app: &str) -> String {
    let Ok(mut editor) = hangar_config::TomlEditor::parse(fly_toml) else {
        return fly_toml.to_string();
    };
    match editor.set_app(app) {
        Ok(()) => editor.text(),
        Err(_) => fly_toml.to_string(),
    }
}

/// Writes `text` to `path` through a temporary file beside it, so that a
/// failure never leaves half a file.
fn write_whole(path: &Path, text: &str) -> anyhow::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "fly.toml".into());
    let tmp = dir.join(format!(".{name}.hangar-save"));
    std::fs::write(&tmp, text).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot replace {}", path.display()))?;
    Ok(())
}

pub(super) async fn run(ctx: &Context) -> anyhow::Result<i32> {
    let app = ctx.require_app()?;
    let client = ctx.client()?;
    fleet::require_app(&client, &app).await?;
    let releases = client.list_releases(&app).await?;
    let Some(release) = deployed(&releases) else {
        anyhow::bail!(
            "app {app} has no complete release to take a config from: deploy it first (`hangar deploy`)"
        );
    };
    let path = ctx.config_path();
    let mut text = with_app(&release.fly_toml, &app);
    if !text.ends_with('\n') {
        text.push('\n');
    }
    let unchanged = std::fs::read_to_string(&path).is_ok_and(|current| current == text);
    if path.exists() && !unchanged {
        let question = format!(
            "Overwrite {} with the config of {app} v{}?",
            path.display(),
            release.version
        );
        if !ctx.confirm(&question, &format!("overwriting {}", path.display()))? {
            return Ok(1);
        }
    }
    if !unchanged {
        write_whole(&path, &text)?;
    }
    if ctx.output.is_json() {
        ctx.output.json(&serde_json::json!({
            "path": path.display().to_string(),
            "app": app,
            "version": release.version,
            "changed": !unchanged,
        }))?;
    } else if unchanged {
        ctx.output.line(format_args!(
            "{} already holds the config of {app} v{}",
            path.display(),
            release.version
        ))?;
    } else {
        ctx.output.line(format_args!(
            "Wrote the config of {app} v{} to {}",
            release.version,
            path.display()
        ))?;
    }
    Ok(0)
}
