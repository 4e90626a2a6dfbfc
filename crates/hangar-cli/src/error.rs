//! Errors of the CLI itself (the API's errors come from `hangar-client`).

/// A command line that cannot be carried out as given.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(
        "this command needs an app: pass --app NAME (or -a NAME), set HANGAR_APP, or run it \
         where fly.toml names the app (or point -c at one)"
    )]
    MissingApp,

    #[error("app {app} not found: check the name with `hangar apps list`, or create it with `hangar apps create {app}`")]
    UnknownApp { app: String },

    #[error("no fly.toml at {path}: run `hangar launch` to create one, or pass -c PATH")]
    MissingConfig { path: String },

    #[error("name the app to {action}: `hangar apps {action} NAME`")]
    MissingAppName { action: &'static str },

    #[error(
        "invalid app name {name:?}: use lowercase letters, digits and dashes, starting with a \
         letter and not ending with a dash, at most 63 characters"
    )]
    InvalidAppName { name: String },

    #[error("not {action} without confirmation, and there is no terminal to ask on: pass --yes (-y) to confirm")]
    ConfirmationRequired { action: String },

    #[error(
        "dev is handled by the binary: `hangar {command}` does not run through hangar_cli::run"
    )]
    HandledByBinary { command: &'static str },

    #[error("{0}")]
    InvalidArguments(String),
}
