//! Where the client finds the API URL and token.
//!
//! In order:
//! 1. `HANGAR_API_URL` and `HANGAR_API_TOKEN` from the environment;
//! 2. otherwise the files `hangar dev` writes into its data dir: `api-url`
//!    and `token`. The data dir is `$HANGAR_DATA_DIR` when set, else
//!    `~/.local/share/hangar/dev`;
//! 3. the URL falls back to [`DEFAULT_API_URL`]; a missing token is an error.
//!
//! Each value is looked up on its own: a token from the environment works
//! with a URL from the file, and the other way round.

use std::path::{Path, PathBuf};

use crate::error::ClientError;

/// Environment variable with the API base URL.
pub const API_URL_ENV: &str = "HANGAR_API_URL";
/// Environment variable with the bearer token.
pub const API_TOKEN_ENV: &str = "HANGAR_API_TOKEN";
/// Environment variable naming `hangar dev`'s data dir.
pub const DATA_DIR_ENV: &str = "HANGAR_DATA_DIR";
/// File in the data dir holding the token (`hangar dev` writes it).
pub const TOKEN_FILE_NAME: &str = "token";
/// File in the data dir holding the API URL (`hangar dev` writes it).
pub const API_URL_FILE_NAME: &str = "api-url";
/// The URL `hangar dev` listens on by default.
pub const DEFAULT_API_URL: &str = "http://127.0.0.1:4280";

/// An API URL and the token to use with it.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub api_url: String,
    pub token: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("api_url", &self.api_url)
            .field("token", &"<redacted>")
            .finish()
    }
}

impl Credentials {
    /// Finds the credentials from the process environment and `hangar dev`'s
    /// files, as described in the module documentation.
    pub fn discover() -> Result<Self, ClientError> {
        Self::discover_with(&|name| std::env::var(name).ok())
    }

    /// Like [`Credentials::discover`], reading variables through `env`.
    pub fn discover_with(env: &dyn Fn(&str) -> Option<String>) -> Result<Self, ClientError> {
        Ok(Credentials {
            api_url: discover_api_url_with(env)?,
            token: discover_token_with(env)?,
        })
    }
}

/// The API URL alone: `HANGAR_API_URL`, else the `api-url` file of
/// `hangar dev`'s data dir, else [`DEFAULT_API_URL`].
pub fn discover_api_url() -> Result<String, ClientError> {
    discover_api_url_with(&|name| std::env::var(name).ok())
}

/// The token alone: `HANGAR_API_TOKEN`, else the `token` file of
/// `hangar dev`'s data dir.
pub fn discover_token() -> Result<String, ClientError> {
    discover_token_with(&|name| std::env::var(name).ok())
}

fn non_blank(env: &dyn Fn(&str) -> Option<String>, name: &str) -> Option<String> {
    env(name)
        .map(|value| value.trim().to_string())
        .filter(|value| !value.is_empty())
}

fn discover_api_url_with(env: &dyn Fn(&str) -> Option<String>) -> Result<String, ClientError> {
    if let Some(url) = non_blank(env, API_URL_ENV) {
        return Ok(url);
    }
    let from_file = match dev_data_dir_with(env) {
        Some(dir) => read_trimmed(&dir.join(API_URL_FILE_NAME))?,
        None => None,
    };
    Ok(from_file.unwrap_or_else(|| DEFAULT_API_URL.to_string()))
}

fn discover_token_with(env: &dyn Fn(&str) -> Option<String>) -> Result<String, ClientError> {
    if let Some(token) = non_blank(env, API_TOKEN_ENV) {
        return Ok(token);
    }
    let token_path = dev_data_dir_with(env)
        .map(|dir| dir.join(TOKEN_FILE_NAME))
        .unwrap_or_else(|| PathBuf::from("~/.local/share/hangar/dev/token"));
    read_trimmed(&token_path)?.ok_or(ClientError::MissingToken { path: token_path })
}

/// `hangar dev`'s data dir: `$HANGAR_DATA_DIR`, else `~/.local/share/hangar/dev`.
/// `None` only when neither `HANGAR_DATA_DIR` nor `HOME` is set.
pub fn default_dev_data_dir() -> Option<PathBuf> {
    dev_data_dir_with(&|name| std::env::var(name).ok())
}

fn dev_data_dir_with(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    if let Some(dir) = non_blank(env, DATA_DIR_ENV) {
        return Some(PathBuf::from(dir));
    }
    non_blank(env, "HOME").map(|home| Path::new(&home).join(".local/share/hangar/dev"))
}

/// The trimmed content of a file, `None` when it does not exist or is blank.
fn read_trimmed(path: &Path) -> Result<Option<String>, ClientError> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let text = text.trim();
            Ok((!text.is_empty()).then(|| text.to_string()))
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(ClientError::ReadCredentials {
            path: path.to_path_buf(),
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env_of(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| vars.get(name).cloned()
    }

    #[test]
    fn environment_wins_over_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(TOKEN_FILE_NAME), "from-file\n").unwrap();
        std::fs::write(dir.path().join(API_URL_FILE_NAME), "http://127.0.0.1:9\n").unwrap();
        let env = env_of(&[
            (DATA_DIR_ENV, dir.path().to_str().unwrap()),
            (API_URL_ENV, "http://10.0.0.1:4280"),
            (API_TOKEN_ENV, "from-env"),
        ]);
        let creds = Credentials::discover_with(&env).unwrap();
        assert_eq!(creds.api_url, "http://10.0.0.1:4280");
        assert_eq!(creds.token, "from-env");
    }

    #[test]
    fn files_in_the_data_dir_are_read_and_trimmed() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(TOKEN_FILE_NAME), "  secret-token\n").unwrap();
        std::fs::write(
            dir.path().join(API_URL_FILE_NAME),
            "http://127.0.0.1:5000\n",
        )
        .unwrap();
        let env = env_of(&[(DATA_DIR_ENV, dir.path().to_str().unwrap())]);
        let creds = Credentials::discover_with(&env).unwrap();
        assert_eq!(creds.api_url, "http://127.0.0.1:5000");
        assert_eq!(creds.token, "secret-token");
        assert!(!format!("{creds:?}").contains("secret-token"));
    }

    #[test]
    fn home_default_and_default_url() {
        let home = tempfile::tempdir().unwrap();
        let dev_dir = home.path().join(".local/share/hangar/dev");
        std::fs::create_dir_all(&dev_dir).unwrap();
        std::fs::write(dev_dir.join(TOKEN_FILE_NAME), "tok").unwrap();
        let env = env_of(&[("HOME", home.path().to_str().unwrap())]);
        let creds = Credentials::discover_with(&env).unwrap();
        assert_eq!(creds.api_url, DEFAULT_API_URL);
        assert_eq!(creds.token, "tok");
    }

    #[test]
    fn missing_token_names_the_file_to_look_for() {
        let dir = tempfile::tempdir().unwrap();
        let env = env_of(&[(DATA_DIR_ENV, dir.path().to_str().unwrap())]);
        let err = Credentials::discover_with(&env).unwrap_err();
        let message = err.to_string();
        assert!(message.contains("HANGAR_API_TOKEN"), "{message}");
        assert!(
            message.contains(&dir.path().join(TOKEN_FILE_NAME).display().to_string()),
            "{message}"
        );
    }
}
