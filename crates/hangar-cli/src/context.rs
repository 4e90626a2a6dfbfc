//! What every client-side command needs: the output, the app from `--app`,
//! and a way to build the API client from the global flags.

use hangar_client::{discovery, Client};

use crate::cli::Cli;
use crate::error::CliError;
use crate::output::Output;

/// Global flags of one invocation, resolved.
#[derive(Debug, Clone)]
pub(crate) struct Context {
    pub output: Output,
    app: Option<String>,
    api_url: Option<String>,
    access_token: Option<String>,
}

impl Context {
    pub fn new(cli: &Cli) -> Self {
        Context {
            output: Output::for_stdout(cli.json),
            app: cli.app.clone().filter(|app| !app.trim().is_empty()),
            api_url: cli.api_url.clone(),
            access_token: cli.access_token.clone(),
        }
    }

    /// The `--app` value, if any.
    pub fn app(&self) -> Option<&str> {
        self.app.as_deref()
    }

    /// The `--app` value; an error that says to pass it otherwise.
    pub fn require_app(&self) -> Result<&str, CliError> {
        self.app().ok_or(CliError::MissingApp)
    }

    /// An API client: `--api-url`/`--access-token` if given, else the
    /// environment and `hangar dev`'s files.
    pub fn client(&self) -> anyhow::Result<Client> {
        let url = match &self.api_url {
            Some(url) => url.clone(),
            None => discovery::discover_api_url()?,
        };
        let token = match &self.access_token {
            Some(token) => token.clone(),
            None => discovery::discover_token()?,
        };
        Ok(Client::new(&url, token)?)
    }
}
