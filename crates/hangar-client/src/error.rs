//! The one error type of the client: every failure says what went wrong and
//! what to do next.

use std::path::PathBuf;

/// Why a call to the Hangar API failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The API answered with an error status; `message` is the server's
    /// `error` field, verbatim.
    #[error("{message} (HTTP {status})")]
    Api { status: u16, message: String },

    /// The API answered 401: the token is missing, wrong or expired.
    #[error(
        "the Hangar API at {url} rejected the token: {}",
        unauthorized_advice(message)
    )]
    Unauthorized { url: String, message: String },

    /// Nothing listens at the API URL. The connection error is kept in
    /// `cause` but not chained into the message, which says all there is.
    #[error("cannot reach the Hangar API at {url}: is `hangar dev` running? set HANGAR_API_URL")]
    Unreachable { url: String, cause: reqwest::Error },

    /// A console WebSocket could not be opened (connection, TLS or handshake).
    #[error("cannot open a console through the Hangar API at {url}: {reason}")]
    Console { url: String, reason: String },
    /// `wait` answered 408: the machine did not reach the state in time.
    #[error("machine {machine} did not become {state} within {seconds}s")]
    WaitTimeout {
        machine: String,
        state: String,
        seconds: u64,
    },

    /// The API took longer than the client's request timeout.
    #[error(
        "the Hangar API did not answer {method} {url} within {timeout}: check `hangar dev`'s \
         output, or retry"
    )]
    Timeout {
        method: String,
        url: String,
        timeout: hangar_types::GoDuration,
    },

    /// The request failed on the way (connection reset, body cut short, …).
    #[error("{method} {url} failed: {source}")]
    Transport {
        method: String,
        url: String,
        #[source]
        source: reqwest::Error,
    },

    /// The API answered 2xx with a body that is not the expected JSON.
    #[error(
        "the Hangar API answered {method} {url} with a body this client cannot read ({source}): \
         is HANGAR_API_URL pointing at a Hangar API of the same version?"
    )]
    Decode {
        method: String,
        url: String,
        #[source]
        source: serde_json::Error,
    },

    /// No token in the environment nor in `hangar dev`'s data dir.
    #[error(
        "no API token: set HANGAR_API_TOKEN, or start `hangar dev`, which writes its token to {}",
        path.display()
    )]
    MissingToken { path: PathBuf },

    /// A credentials file exists but cannot be read.
    #[error("cannot read {}: {source}; fix its permissions or set HANGAR_API_URL and HANGAR_API_TOKEN", path.display())]
    ReadCredentials {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The API URL is not usable.
    #[error(
        "invalid Hangar API URL {url:?}: {reason}; set HANGAR_API_URL to an address such as \
         http://127.0.0.1:4280"
    )]
    InvalidUrl { url: String, reason: String },
}

impl ClientError {
    /// The HTTP status of an API error, if the server answered with one.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Api { status, .. } => Some(*status),
            ClientError::Unauthorized { .. } => Some(401),
            ClientError::WaitTimeout { .. } => Some(408),
            _ => None,
        }
    }

    /// Whether the API answered 404 (no such app, machine, volume or lease).
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }
}

/// The server's 401 message, with advice unless it already gives some.
fn unauthorized_advice(message: &str) -> String {
    if message.contains("HANGAR_API_TOKEN") {
        message.to_string()
    } else {
        format!(
            "{message}; set HANGAR_API_TOKEN to the token `hangar dev` printed (it is also in \
             the `token` file of its data dir)"
        )
    }
}

/// The message of an error answer: the `error` field of a JSON body, else
/// the body text, else the status's reason phrase.
pub(crate) fn error_message(status: reqwest::StatusCode, body: &[u8]) -> String {
    if let Ok(api_error) = serde_json::from_slice::<hangar_types::ApiError>(body) {
        if !api_error.error.trim().is_empty() {
            return api_error.error;
        }
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if !text.is_empty() {
        return text.chars().take(500).collect();
    }
    status
        .canonical_reason()
        .unwrap_or("no error message")
        .to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::StatusCode;

    #[test]
    fn error_message_prefers_the_error_field_verbatim() {
        let body =
            br#"{"error": "machine 3d8d413b29d089 not found in app demo", "status": "unknown"}"#;
        assert_eq!(
            error_message(StatusCode::NOT_FOUND, body),
            "machine 3d8d413b29d089 not found in app demo"
        );
    }

    #[test]
    fn error_message_falls_back_to_text_then_reason() {
        assert_eq!(
            error_message(StatusCode::BAD_GATEWAY, b"upstream went away\n"),
            "upstream went away"
        );
        assert_eq!(error_message(StatusCode::NOT_FOUND, b""), "not found");
    }

    #[test]
    fn unauthorized_advice_is_added_once() {
        let bare = ClientError::Unauthorized {
            url: "http://h:1".into(),
            message: "unauthorized".into(),
        };
        assert_eq!(
            bare.to_string(),
            "the Hangar API at http://h:1 rejected the token: unauthorized; set HANGAR_API_TOKEN \
             to the token `hangar dev` printed (it is also in the `token` file of its data dir)"
        );
        let advised = ClientError::Unauthorized {
            url: "http://h:1".into(),
            message: "bad token: set HANGAR_API_TOKEN".into(),
        };
        assert_eq!(
            advised.to_string(),
            "the Hangar API at http://h:1 rejected the token: bad token: set HANGAR_API_TOKEN"
        );
    }

    #[test]
    fn api_error_display_keeps_the_server_message() {
        let err = ClientError::Api {
            status: 409,
            message: "machine is leased by someone else".into(),
        };
        assert_eq!(
            err.to_string(),
            "machine is leased by someone else (HTTP 409)"
        );
        assert!(!err.is_not_found());
    }
}
