//! `hangar secrets set|list|unset|import`: app secrets, injected as
//! environment variables at Machine boot. Values are never printed: the
//! list shows names, digests and times. Unless `--stage`, a change starts a
//! restart-only deploy that is followed like `hangar deploy`.

mod dotenv;

use std::collections::BTreeMap;
use std::io::Read;

use clap::{Args, Subcommand};
use hangar_types::SecretsChanged;

use crate::context::Context;
use crate::deploy::start_following;
use crate::error::CliError;
use crate::fleet;
use crate::output::Table;

/// The largest value read from stdin.
const MAX_STDIN_BYTES: u64 = 64 * 1024;

/// `hangar secrets …`
#[derive(Debug, Subcommand)]
pub enum SecretsCommand {
    /// Set secrets (`NAME=VALUE`; a value of `-` is read from stdin)
    #[command(after_help = "Examples:\n  \
        hangar secrets set DATABASE_URL=postgres://… API_KEY=abc\n  \
        hangar secrets set TLS_KEY=- < key.pem\n  \
        hangar secrets set A=1 --stage    # applied on the next deploy or restart")]
    Set(SetArgs),
    /// List secrets: names and digests, never values
    #[command(visible_alias = "ls")]
    List,
    /// Remove secrets
    Unset(UnsetArgs),
    /// Set secrets from dotenv text on stdin (`NAME=VALUE` lines)
    #[command(after_help = "Example:\n  hangar secrets import < .env\n\n\
        A malformed line fails the whole import (naming the line) and sets nothing.")]
    Import(ImportArgs),
}

#[derive(Debug, Args)]
pub struct ChangeFlags {
    /// Only store the change: Machines get it on their next deploy or restart
    #[arg(long)]
    pub stage: bool,
    /// Do not follow the restart deploy; print its id
    #[arg(long)]
    pub detach: bool,
}

#[derive(Debug, Args)]
pub struct SetArgs {
    /// NAME=VALUE pairs
    #[arg(value_name = "NAME=VALUE", required = true)]
    pub pairs: Vec<String>,
    #[command(flatten)]
    pub flags: ChangeFlags,
}

#[derive(Debug, Args)]
pub struct UnsetArgs {
    /// Names to remove
    #[arg(value_name = "NAME", required = true)]
    pub names: Vec<String>,
    #[command(flatten)]
    pub flags: ChangeFlags,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    #[command(flatten)]
    pub flags: ChangeFlags,
}

pub(crate) async fn run(ctx: &Context, command: SecretsCommand) -> anyhow::Result<i32> {
    // Parse before touching the API: bad input changes nothing.
    let app = ctx.require_app()?;
    match command {
        SecretsCommand::List => list(ctx, &app).await,
        SecretsCommand::Set(args) => {
            let values = parse_pairs(&args.pairs)?;
            let client = ctx.client()?;
            fleet::require_app(&client, &app).await?;
            let changed = client.set_secrets(&app, values, args.flags.stage).await?;
            after_change(ctx, &client, &app, changed, &args.flags).await
        }
        SecretsCommand::Import(args) => {
            let values = dotenv::parse(&read_stdin()?)?;
            if values.is_empty() {
                return Err(CliError::InvalidArguments(
                    "no NAME=VALUE lines on stdin: pipe a dotenv file, as in \
                     `hangar secrets import < .env`"
                        .into(),
                )
                .into());
            }
            let client = ctx.client()?;
            fleet::require_app(&client, &app).await?;
            let changed = client.set_secrets(&app, values, args.flags.stage).await?;
            after_change(ctx, &client, &app, changed, &args.flags).await
        }
        SecretsCommand::Unset(args) => {
            for name in &args.names {
                check_name(name)?;
            }
            let client = ctx.client()?;
            fleet::require_app(&client, &app).await?;
            let changed = client
                .unset_secrets(&app, args.names.clone(), args.flags.stage)
                .await?;
            after_change(ctx, &client, &app, changed, &args.flags).await
        }
    }
}

fn check_name(name: &str) -> Result<(), CliError> {
    if hangar_types::is_valid_secret_name(name) {
        Ok(())
    } else {
        Err(CliError::InvalidArguments(format!(
            "{name:?} is not a valid secret name: use letters, digits and _, not starting \
             with a digit"
        )))
    }
}

/// `NAME=VALUE` arguments; `NAME=-` reads the value from stdin (once).
fn parse_pairs(pairs: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    let mut values = BTreeMap::new();
    let mut stdin_used = false;
    for pair in pairs {
        let Some((name, value)) = pair.split_once('=') else {
            return Err(CliError::InvalidArguments(format!(
                "{:?} is not NAME=VALUE",
                pair.split('=').next().unwrap_or_default()
            ))
            .into());
        };
        check_name(name)?;
        let value = if value == "-" {
            if stdin_used {
                return Err(CliError::InvalidArguments(
                    "only one secret can read its value from stdin (`NAME=-`)".into(),
                )
                .into());
            }
            stdin_used = true;
            read_stdin()?
        } else {
            value.to_string()
        };
        values.insert(name.to_string(), value);
    }
    Ok(values)
}

fn read_stdin() -> anyhow::Result<String> {
    let mut text = String::new();
    std::io::stdin()
        .take(MAX_STDIN_BYTES + 1)
        .read_to_string(&mut text)?;
    if text.len() as u64 > MAX_STDIN_BYTES {
        return Err(CliError::InvalidArguments(format!(
            "stdin holds more than {MAX_STDIN_BYTES} bytes: a secret is at most 64 KiB"
        ))
        .into());
    }
    Ok(text)
}

async fn after_change(
    ctx: &Context,
    client: &hangar_client::Client,
    app: &str,
    changed: SecretsChanged,
    flags: &ChangeFlags,
) -> anyhow::Result<i32> {
    match changed.deploy {
        Some(deploy) => {
            ctx.output.note(format_args!(
                "Secrets version {}: restarting the app's Machines to apply them",
                changed.secrets_version
            ));
            start_following(ctx, client, app, &deploy, flags.detach).await
        }
        None => {
            if ctx.output.is_json() {
                ctx.output.json(&changed)?;
            } else if flags.stage {
                ctx.output.note(format_args!(
                    "Secrets version {} staged: Machines get it on their next deploy or restart",
                    changed.secrets_version
                ));
            } else {
                ctx.output.note(format_args!(
                    "Secrets version {} stored: the app has no release yet, so they apply on \
                     the first deploy",
                    changed.secrets_version
                ));
            }
            Ok(0)
        }
    }
}

async fn list(ctx: &Context, app: &str) -> anyhow::Result<i32> {
    let client = ctx.client()?;
    fleet::require_app(&client, app).await?;
    let secrets = client.list_secrets(app).await?;
    if ctx.output.is_json() {
        ctx.output.json(&secrets)?;
        return Ok(0);
    }
    let mut table = Table::new(["name", "digest", "created at"]);
    for secret in secrets {
        table.push_row([secret.name, secret.digest, secret.created_at]);
    }
    ctx.output.table(&table)?;
    Ok(0)
}
