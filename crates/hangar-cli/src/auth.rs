//! `hangar auth login|logout|whoami|token`: a stored API URL and token.
//!
//! `login` checks the token against the API and stores both in
//! `$XDG_CONFIG_HOME/hangar/credentials.json` (else
//! `~/.hangar/credentials.json`), mode 0600. Every command then uses them
//! unless `HANGAR_API_URL`/`HANGAR_API_TOKEN` or the flags say otherwise.

use std::io::{BufRead, IsTerminal, Write};

use clap::{Args, Subcommand};
use hangar_client::discovery::{self, Credentials};
use hangar_client::Client;

use crate::context::Context;
use crate::error::CliError;

/// `hangar auth …`
#[derive(Debug, Subcommand)]
pub enum AuthCommand {
    /// Store an API URL and token after checking them
    #[command(after_help = "Examples:\n  \
        hangar auth login --api-url http://10.0.0.5:4280 --token \"$TOKEN\"\n  \
        echo \"$TOKEN\" | hangar auth login --api-url http://10.0.0.5:4280\n\n\
        Without --token the token is read from stdin (one line).")]
    Login(LoginArgs),
    /// Forget the stored login
    Logout,
    /// Show which API and credentials this CLI uses, and check them
    Whoami,
    /// Print the token in use
    Token,
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// Token to store [default: one line read from stdin]
    #[arg(long, value_name = "TOKEN")]
    pub token: Option<String>,
}

pub(crate) async fn run(ctx: &Context, command: AuthCommand) -> anyhow::Result<i32> {
    match command {
        AuthCommand::Login(args) => login(ctx, args).await,
        AuthCommand::Logout => logout(ctx),
        AuthCommand::Whoami => whoami(ctx).await,
        AuthCommand::Token => {
            let credentials = ctx.credentials()?;
            if ctx.output.is_json() {
                ctx.output
                    .json(&serde_json::json!({ "token": credentials.token }))?;
            } else {
                ctx.output.line(credentials.token)?;
            }
            Ok(0)
        }
    }
}

fn login_path() -> Result<std::path::PathBuf, CliError> {
    discovery::login_path().ok_or_else(|| {
        CliError::InvalidArguments(
            "cannot tell where to store the login: set HOME or XDG_CONFIG_HOME".into(),
        )
    })
}

async fn login(ctx: &Context, args: LoginArgs) -> anyhow::Result<i32> {
    let api_url = match ctx.api_url_flag() {
        Some(url) => url.to_string(),
        None => discovery::discover_api_url()?,
    };
    let token = match args.token.or_else(|| ctx.token_flag().map(str::to_string)) {
        Some(token) => token,
        None => read_token()?,
    };
    let token = token.trim().to_string();
    if token.is_empty() {
        return Err(CliError::InvalidArguments(
            "the token is empty: pass --token TOKEN or pipe it on stdin".into(),
        )
        .into());
    }
    let credentials = Credentials { api_url, token };
    // Nothing is stored unless the API accepts the token.
    Client::from_credentials(&credentials)?
        .list_apps("personal")
        .await?;
    let path = login_path()?;
    discovery::save_login(&path, &credentials)
        .map_err(|err| anyhow::anyhow!("cannot write {}: {err}", path.display()))?;
    ctx.output.note(format_args!(
        "Logged in to {} (stored in {})",
        credentials.api_url,
        path.display()
    ));
    Ok(0)
}

fn read_token() -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        let mut stderr = std::io::stderr().lock();
        write!(stderr, "API token: ")?;
        stderr.flush()?;
    }
    let mut line = String::new();
    stdin.lock().read_line(&mut line)?;
    Ok(line)
}

fn logout(ctx: &Context) -> anyhow::Result<i32> {
    let path = login_path()?;
    match std::fs::remove_file(&path) {
        Ok(()) => ctx
            .output
            .note(format_args!("Logged out (removed {})", path.display())),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            ctx.output.note("Not logged in: nothing to remove")
        }
        Err(err) => return Err(anyhow::anyhow!("cannot remove {}: {err}", path.display())),
    }
    Ok(0)
}

/// Where the token in use comes from, for people.
fn token_source(ctx: &Context) -> String {
    if ctx.token_flag().is_some() {
        return "--access-token".into();
    }
    if std::env::var(discovery::API_TOKEN_ENV).is_ok_and(|t| !t.trim().is_empty()) {
        return discovery::API_TOKEN_ENV.into();
    }
    match discovery::login_path() {
        Some(path) if path.is_file() => format!("login in {}", path.display()),
        _ => "`hangar dev`'s data dir".into(),
    }
}

async fn whoami(ctx: &Context) -> anyhow::Result<i32> {
    let credentials = ctx.credentials()?;
    let source = token_source(ctx);
    let accepted = Client::from_credentials(&credentials)?
        .list_apps("personal")
        .await
        .map(|_| ());
    if ctx.output.is_json() {
        ctx.output.json(&serde_json::json!({
            "api_url": credentials.api_url,
            "token_source": source,
            "authenticated": accepted.is_ok(),
        }))?;
    } else {
        ctx.output
            .line(format_args!("API:    {}", credentials.api_url))?;
        ctx.output.line(format_args!("Token:  from {source}"))?;
    }
    accepted?;
    if !ctx.output.is_json() {
        ctx.output.line("Status: authenticated")?;
    }
    Ok(0)
}
