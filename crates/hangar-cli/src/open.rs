//! `hangar open [PATH]`: the app's URL on the edge proxy.
//!
//! `hangar dev` serves apps at `http://<app>.<domain>:<port>`, by default
//! `localhost` and 4281 (its `--app-domain` and `--proxy-listen`); a platform
//! elsewhere is described with `HANGAR_APP_DOMAIN` and `HANGAR_PROXY_PORT`.

use std::io::IsTerminal;

use clap::Args;

use crate::context::Context;
use crate::error::CliError;

/// Environment variable with the apps' domain.
pub const APP_DOMAIN_ENV: &str = "HANGAR_APP_DOMAIN";
/// Environment variable with the proxy's HTTP port.
pub const PROXY_PORT_ENV: &str = "HANGAR_PROXY_PORT";
const DEFAULT_APP_DOMAIN: &str = "localhost";
const DEFAULT_PROXY_PORT: u16 = 4281;

#[derive(Debug, Args)]
#[command(
    after_help = "The URL is http://<app>.$HANGAR_APP_DOMAIN:$HANGAR_PROXY_PORT \
    (defaults: localhost and 4281, what `hangar dev` uses). On a terminal the URL is \
    also opened with xdg-open when it is installed."
)]
pub struct OpenArgs {
    /// Path to open (`/status`)
    #[arg(value_name = "PATH", default_value = "/")]
    pub path: String,
}

/// The app's URL for `path`.
pub(crate) fn app_url(
    app: &str,
    path: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<String, CliError> {
    let domain = env(APP_DOMAIN_ENV)
        .filter(|d| !d.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_APP_DOMAIN.to_string());
    let port = match env(PROXY_PORT_ENV).filter(|p| !p.trim().is_empty()) {
        Some(text) => text.trim().parse::<u16>().map_err(|_| {
            CliError::InvalidArguments(format!(
                "{PROXY_PORT_ENV}={text:?} is not a port number (1-65535)"
            ))
        })?,
        None => DEFAULT_PROXY_PORT,
    };
    let path = path.trim_start_matches('/');
    let port = if port == 80 {
        String::new()
    } else {
        format!(":{port}")
    };
    Ok(format!("http://{app}.{domain}{port}/{path}"))
}

pub(crate) fn run(ctx: &Context, args: OpenArgs) -> anyhow::Result<i32> {
    let app = ctx.require_app()?;
    let url = app_url(&app, &args.path, &|name| std::env::var(name).ok())?;
    if ctx.output.is_json() {
        ctx.output.json(&serde_json::json!({ "url": url }))?;
        return Ok(0);
    }
    ctx.output.line(&url)?;
    if std::io::stdout().is_terminal() {
        // Best effort: without a desktop the printed URL is the answer.
        let _ = std::process::Command::new("xdg-open")
            .arg(&url)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn();
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_uses_dev_defaults_and_the_environment() {
        let none = |_: &str| None;
        assert_eq!(
            app_url("web", "/", &none).unwrap(),
            "http://web.localhost:4281/"
        );
        let env = |name: &str| match name {
            APP_DOMAIN_ENV => Some("apps.example".to_string()),
            PROXY_PORT_ENV => Some("80".to_string()),
            _ => None,
        };
        assert_eq!(
            app_url("web", "/status", &env).unwrap(),
            "http://web.apps.example/status"
        );
        let bad = |name: &str| (name == PROXY_PORT_ENV).then(|| "http".to_string());
        assert!(app_url("web", "/", &bad)
            .unwrap_err()
            .to_string()
            .contains(PROXY_PORT_ENV));
    }
}
