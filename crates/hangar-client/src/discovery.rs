//! Where the client finds the API URL and token.
//!
//! In order:
//! 1. `HANGAR_API_URL` and `HANGAR_API_TOKEN` from the environment;
//! 2. otherwise a stored login (`hangar auth login`): the file
//!    `$XDG_CONFIG_HOME/hangar/credentials.json`, else
//!    `~/.hangar/credentials.json` (see [`login_path`]);
//! 3. otherwise the files `hangar dev` writes into its data dir: `api-url`
//!    and `token`. The data dir is `$HANGAR_DATA_DIR` when set, else
//!    `~/.local/share/hangar/dev`;
//! 4. the URL falls back to [`DEFAULT_API_URL`]; a missing token is an error.
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
    if let Some(login) = read_login_with(env)? {
        return Ok(login.api_url);
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
    if let Some(login) = read_login_with(env)? {
        return Ok(login.token);
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

/// File name of a stored login.
pub const LOGIN_FILE_NAME: &str = "credentials.json";

/// The stored login as written to [`LOGIN_FILE_NAME`].
#[derive(serde::Serialize, serde::Deserialize)]
struct StoredLogin {
    api_url: String,
    token: String,
}

/// Where `hangar auth login` stores the URL and token:
/// `$XDG_CONFIG_HOME/hangar/credentials.json`, else
/// `~/.hangar/credentials.json`; `None` when neither variable is set.
pub fn login_path() -> Option<PathBuf> {
    login_path_with(&|name| std::env::var(name).ok())
}

/// [`login_path`], reading variables through `env`.
pub fn login_path_with(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    if let Some(dir) = non_blank(env, "XDG_CONFIG_HOME") {
        return Some(Path::new(&dir).join("hangar").join(LOGIN_FILE_NAME));
    }
    non_blank(env, "HOME").map(|home| Path::new(&home).join(".hangar").join(LOGIN_FILE_NAME))
}

/// The stored login, `None` when there is none.
pub fn read_login() -> Result<Option<Credentials>, ClientError> {
    read_login_with(&|name| std::env::var(name).ok())
}

fn read_login_with(
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<Credentials>, ClientError> {
    let Some(path) = login_path_with(env) else {
        return Ok(None);
    };
    let Some(text) = read_trimmed(&path)? else {
        return Ok(None);
    };
    let stored: StoredLogin =
        serde_json::from_str(&text).map_err(|err| ClientError::ReadCredentials {
            path: path.clone(),
            source: std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("not a stored login ({err}): run `hangar auth login` again"),
            ),
        })?;
    Ok(Some(Credentials {
        api_url: stored.api_url,
        token: stored.token,
    }))
}

/// Writes `credentials` to `path` (mode 0600, its directory 0700).
pub fn save_login(path: &Path, credentials: &Credentials) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
    if let Some(dir) = path.parent() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
    }
    let text = serde_json::to_string_pretty(&StoredLogin {
        api_url: credentials.api_url.clone(),
        token: credentials.token.clone(),
    })?;
    let tmp = path.with_extension("json.tmp");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
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
    fn a_stored_login_wins_over_dev_files_and_loses_to_the_environment() {
        let config = tempfile::tempdir().unwrap();
        let dev = tempfile::tempdir().unwrap();
        std::fs::write(dev.path().join(TOKEN_FILE_NAME), "dev-token").unwrap();
        let path = login_path_with(&env_of(&[(
            "XDG_CONFIG_HOME",
            config.path().to_str().unwrap(),
        )]))
        .unwrap();
        assert_eq!(path, config.path().join("hangar").join(LOGIN_FILE_NAME));
        save_login(
            &path,
            &Credentials {
                api_url: "http://10.1.2.3:4280".into(),
                token: "login-token".into(),
            },
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let base = [
            ("XDG_CONFIG_HOME", config.path().to_str().unwrap()),
            (DATA_DIR_ENV, dev.path().to_str().unwrap()),
        ];
        let creds = Credentials::discover_with(&env_of(&base)).unwrap();
        assert_eq!(creds.api_url, "http://10.1.2.3:4280");
        assert_eq!(creds.token, "login-token");
        let with_env = [base[0], base[1], (API_TOKEN_ENV, "env-token")];
        let creds = Credentials::discover_with(&env_of(&with_env)).unwrap();
        assert_eq!(creds.token, "env-token");
        let home = login_path_with(&env_of(&[("HOME", "/home/u")])).unwrap();
        assert_eq!(home, Path::new("/home/u/.hangar").join(LOGIN_FILE_NAME));
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
