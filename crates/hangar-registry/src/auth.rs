//! Authentication with the platform token, and the token flow Docker clients use.
//!
//! Accepted credentials:
//! - `Authorization: Basic base64(<any user>:<platform token>)`;
//! - `Authorization: Bearer <platform token>`;
//! - `Authorization: Bearer <registry token>`: a short-lived token from
//!   `GET /v2/token`, HMAC-signed with the registry's key and scoped to the
//!   repository actions it was asked for.
//!
//! Without them the answer is 401 with
//! `WWW-Authenticate: Bearer realm="<base>/v2/token",service="hangar",scope=…`.

use axum::http::{header, HeaderMap};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::error::{ErrorCode, RegistryError};
use crate::meta::now_secs;

/// The `service` the registry names in its challenges and tokens.
pub const SERVICE: &str = "hangar";

/// How long a registry token is valid.
pub const TOKEN_TTL_SECS: u64 = 300;

/// One resource and the actions wanted on it (`repository:app/img:pull,push`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scope {
    /// `repository` or `registry`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The repository name (or `catalog`).
    pub name: String,
    /// `pull`, `push`, `delete` or `*`.
    pub actions: Vec<String>,
}

impl Scope {
    /// A repository scope.
    pub fn repository(name: &str, actions: &[&str]) -> Scope {
        Scope {
            kind: "repository".into(),
            name: name.into(),
            actions: actions.iter().map(|a| a.to_string()).collect(),
        }
    }

    /// The catalog scope.
    pub fn catalog() -> Scope {
        Scope {
            kind: "registry".into(),
            name: "catalog".into(),
            actions: vec!["*".into()],
        }
    }

    /// Parses `type:name:action,action`; None if malformed.
    pub fn parse(text: &str) -> Option<Scope> {
        let (kind, rest) = text.split_once(':')?;
        let (name, actions) = rest.rsplit_once(':')?;
        if kind.is_empty() || name.is_empty() {
            return None;
        }
        Some(Scope {
            kind: kind.into(),
            name: name.into(),
            actions: actions
                .split(',')
                .filter(|a| !a.is_empty())
                .map(str::to_owned)
                .collect(),
        })
    }

    fn render(&self) -> String {
        format!("{}:{}:{}", self.kind, self.name, self.actions.join(","))
    }

    fn covers(&self, wanted: &Scope) -> bool {
        self.kind == wanted.kind
            && self.name == wanted.name
            && wanted
                .actions
                .iter()
                .all(|a| self.actions.iter().any(|g| g == a || g == "*"))
    }
}

/// What a request's credentials allow.
#[derive(Debug)]
enum Access {
    /// The platform token: everything.
    Platform,
    /// A registry token: its scopes.
    Scoped(Vec<Scope>),
}

#[derive(Serialize, Deserialize)]
struct Claims {
    exp: u64,
    access: Vec<Scope>,
}

/// Checks credentials and signs registry tokens.
pub struct Auth {
    platform_token: String,
    key: Vec<u8>,
}

impl Auth {
    /// `platform_token` is the API token; `key` signs registry tokens.
    pub fn new(platform_token: String, key: Vec<u8>) -> Auth {
        Auth {
            platform_token,
            key,
        }
    }

    /// Succeeds if the request may do everything in `wanted`; else a 401
    /// (no or bad credentials) or 403 (a token without that scope).
    pub fn require(&self, headers: &HeaderMap, wanted: &[Scope]) -> Result<(), RegistryError> {
        let challenge = || {
            let scopes: Vec<String> = wanted.iter().map(Scope::render).collect();
            let mut header = format!(
                "Bearer realm=\"{}/v2/token\",service=\"{SERVICE}\"",
                base_url(headers)
            );
            if !scopes.is_empty() {
                header.push_str(&format!(",scope=\"{}\"", scopes.join(" ")));
            }
            header
        };
        match self.access(headers) {
            None if authorization(headers).is_none() => Err(RegistryError::unauthorized(
                "authentication required: log in with the platform token as password \
                 (docker login -u hangar -p $HANGAR_API_TOKEN) or send it as a bearer token",
                challenge(),
            )),
            None => Err(RegistryError::unauthorized(
                "the credentials are not valid (wrong platform token, or an expired or \
                 forged registry token): log in again with the platform token",
                challenge(),
            )),
            Some(Access::Platform) => Ok(()),
            Some(Access::Scoped(granted)) => {
                let missing = wanted.iter().find(|w| !granted.iter().any(|g| g.covers(w)));
                match missing {
                    None => Ok(()),
                    Some(scope) => Err(RegistryError::unauthorized(
                        format!(
                            "the registry token does not grant {}: request a token for it",
                            scope.render()
                        ),
                        challenge(),
                    )),
                }
            }
        }
    }

    /// Whether the request carries the platform token itself (token endpoint).
    pub fn is_platform(&self, headers: &HeaderMap) -> bool {
        matches!(self.access(headers), Some(Access::Platform))
    }

    /// A signed token granting `scopes` for [`TOKEN_TTL_SECS`].
    pub fn issue(&self, scopes: Vec<Scope>) -> String {
        let claims = Claims {
            exp: now_secs() + TOKEN_TTL_SECS,
            access: scopes,
        };
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).expect("claims"));
        let signature = URL_SAFE_NO_PAD.encode(self.sign(payload.as_bytes()));
        format!("{payload}.{signature}")
    }

    fn sign(&self, payload: &[u8]) -> Vec<u8> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("any key length");
        mac.update(payload);
        mac.finalize().into_bytes().to_vec()
    }

    fn verify(&self, token: &str) -> Option<Vec<Scope>> {
        let (payload, signature) = token.split_once('.')?;
        let signature = URL_SAFE_NO_PAD.decode(signature).ok()?;
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).ok()?;
        mac.update(payload.as_bytes());
        mac.verify_slice(&signature).ok()?;
        let claims: Claims = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
        (claims.exp > now_secs()).then_some(claims.access)
    }

    fn access(&self, headers: &HeaderMap) -> Option<Access> {
        let value = authorization(headers)?;
        let (scheme, credentials) = value.split_once(' ')?;
        let credentials = credentials.trim();
        if scheme.eq_ignore_ascii_case("basic") {
            let decoded = STANDARD.decode(credentials).ok()?;
            let text = String::from_utf8(decoded).ok()?;
            let (_, password) = text.split_once(':')?;
            return self.is_platform_token(password).then_some(Access::Platform);
        }
        if scheme.eq_ignore_ascii_case("bearer") {
            if self.is_platform_token(credentials) {
                return Some(Access::Platform);
            }
            return self.verify(credentials).map(Access::Scoped);
        }
        None
    }

    fn is_platform_token(&self, presented: &str) -> bool {
        constant_time_eq(presented.as_bytes(), self.platform_token.as_bytes())
    }
}

/// Compares secrets without an early exit on the first difference.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn authorization(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
}

/// `http://<Host>` as the client reached us (`X-Forwarded-Proto` honoured).
pub fn base_url(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("127.0.0.1");
    let scheme = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("http");
    format!("{scheme}://{host}")
}

/// The answer of `GET /v2/token`.
#[derive(Serialize)]
pub struct TokenResponse {
    /// The registry token (Docker reads this one).
    pub token: String,
    /// The same token (OAuth2 clients read this one).
    pub access_token: String,
    /// Seconds until it expires.
    pub expires_in: u64,
    /// When it was issued (RFC 3339).
    pub issued_at: String,
}

/// Handles a token request: the platform token (Basic password or Bearer)
/// buys a registry token for the scopes asked (`scope` may repeat; each may
/// hold several space-separated scopes).
pub fn token_request(
    auth: &Auth,
    headers: &HeaderMap,
    query: &[(String, String)],
) -> Result<TokenResponse, RegistryError> {
    if !auth.is_platform(headers) {
        let header = format!("Basic realm=\"{}/v2/token\"", base_url(headers));
        return Err(RegistryError::unauthorized(
            "the token service needs the platform token: Basic auth with any user name and \
             the token as password",
            header,
        ));
    }
    let mut scopes = Vec::new();
    for (key, value) in query.iter().filter(|(k, _)| k == "scope") {
        for text in value.split(' ').filter(|s| !s.is_empty()) {
            let scope = Scope::parse(text).ok_or_else(|| {
                RegistryError::new(
                    ErrorCode::Denied,
                    format!("{key} {text:?} is not type:name:actions"),
                )
            })?;
            scopes.push(scope);
        }
    }
    let token = auth.issue(scopes);
    Ok(TokenResponse {
        access_token: token.clone(),
        token,
        expires_in: TOKEN_TTL_SECS,
        issued_at: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(auth: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, auth.parse().unwrap());
        h
    }

    #[test]
    fn tokens_grant_only_their_scopes() {
        let auth = Auth::new("secret".into(), b"key".to_vec());
        let push = Scope::repository("app/img", &["pull", "push"]);
        let pull_other = Scope::repository("other", &["pull"]);
        let token = auth.issue(vec![push.clone()]);
        let bearer = headers(&format!("Bearer {token}"));
        assert!(auth.require(&bearer, std::slice::from_ref(&push)).is_ok());
        assert!(auth
            .require(&bearer, std::slice::from_ref(&pull_other))
            .is_err());
        let forged = format!("{}x", token);
        assert!(auth
            .require(
                &headers(&format!("Bearer {forged}")),
                std::slice::from_ref(&push)
            )
            .is_err());
        let basic = headers(&format!("Basic {}", STANDARD.encode("anyone:secret")));
        assert!(auth.require(&basic, &[pull_other]).is_ok());
        let wrong = headers(&format!("Basic {}", STANDARD.encode("anyone:nope")));
        assert!(auth.require(&wrong, &[push]).is_err());
    }

    #[test]
    fn scopes_parse() {
        let scope = Scope::parse("repository:app/img:pull,push").unwrap();
        assert_eq!(scope.name, "app/img");
        assert_eq!(scope.actions, vec!["pull", "push"]);
        assert_eq!(
            Scope::parse("registry:catalog:*").unwrap(),
            Scope::catalog()
        );
        assert!(Scope::parse("nonsense").is_none());
    }
}
