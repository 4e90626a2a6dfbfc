//! What every client-side command needs: the output, the app (from `--app`,
//! else fly.toml), the config path (`-c`), and a way to build the API client
//! from the global flags.

use std::path::PathBuf;

use hangar_client::{discovery, Client};

use crate::cli::Cli;
use crate::error::CliError;
use crate::output::Output;
use crate::prompt::{self, Confirmation};

/// Global flags of one invocation, resolved.
#[derive(Debug, Clone)]
pub(crate) struct Context {
    pub output: Output,
    /// `-y/--yes`: confirmations are answered yes.
    pub yes: bool,
    app: Option<String>,
    config: Option<PathBuf>,
    api_url: Option<String>,
    access_token: Option<String>,
}

impl Context {
    pub fn new(cli: &Cli) -> Self {
        Context {
            output: Output::for_stdout(cli.json),
            yes: cli.yes,
            app: cli.app.clone().filter(|app| !app.trim().is_empty()),
            config: cli.config.clone(),
            api_url: cli.api_url.clone(),
            access_token: cli.access_token.clone(),
        }
    }

    /// Asks `question` before a destructive `action` ("destroying app x"):
    /// true to go on, false when the user said no. Without `--yes` and without
    /// a terminal to ask on, an error saying to pass `--yes`.
    pub fn confirm(&self, question: &str, action: &str) -> anyhow::Result<bool> {
        match prompt::confirm(self.yes, question)? {
            Confirmation::Yes => Ok(true),
            Confirmation::Declined => {
                self.output.note("Cancelled: nothing changed.");
                Ok(false)
            }
            Confirmation::CannotAsk => Err(CliError::ConfirmationRequired {
                action: action.to_string(),
            }
            .into()),
        }
    }

    /// The `--app` value, if any.
    pub fn app(&self) -> Option<&str> {
        self.app.as_deref()
    }

    /// The `--api-url` value, if any.
    pub fn api_url_flag(&self) -> Option<&str> {
        self.api_url.as_deref()
    }

    /// The `--access-token` value, if any.
    pub fn token_flag(&self) -> Option<&str> {
        self.access_token.as_deref()
    }

    /// The fly.toml to read: `-c PATH` (a directory means `DIR/fly.toml`),
    /// else `./fly.toml`.
    pub fn config_path(&self) -> PathBuf {
        hangar_config::resolve_config_path(self.config.as_deref())
    }

    /// The app to act on: `--app`, else `app` of fly.toml (when the file
    /// exists); an error that says what to pass otherwise.
    pub fn require_app(&self) -> Result<String, CliError> {
        if let Some(app) = self.app() {
            return Ok(app.to_string());
        }
        let path = self.config_path();
        if path.is_file() {
            if let Ok(loaded) = hangar_config::load_file(&path) {
                if let Some(app) = loaded.config.app.filter(|a| !a.trim().is_empty()) {
                    return Ok(app);
                }
            }
        }
        Err(CliError::MissingApp)
    }

    /// The API URL and token: `--api-url`/`--access-token` if given, else
    /// the environment, a stored login and `hangar dev`'s files.
    pub fn credentials(&self) -> anyhow::Result<discovery::Credentials> {
        let api_url = match &self.api_url {
            Some(url) => url.clone(),
            None => discovery::discover_api_url()?,
        };
        let token = match &self.access_token {
            Some(token) => token.clone(),
            None => discovery::discover_token()?,
        };
        Ok(discovery::Credentials { api_url, token })
    }

    /// An API client built from [`Context::credentials`].
    pub fn client(&self) -> anyhow::Result<Client> {
        let credentials = self.credentials()?;
        Ok(Client::new(&credentials.api_url, credentials.token)?)
    }
}
