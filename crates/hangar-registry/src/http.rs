//! Routing of `/v2/…`: repository names contain `/`, so one catch-all route
//! splits the path at its last `/referrers/`, `/blobs/`, `/manifests/` or
//! `/tags/list`.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

use crate::auth::{self, Scope};
use crate::error::{ErrorCode, RegistryError};
use crate::names::{Digest, RepoName};
use crate::Registry;

/// What a `/v2/<rest>` path names.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Target {
    Tags(String),
    Manifest(String, String),
    UploadStart(String),
    Upload(String, String),
    Blob(String, String),
    Referrers(String, String),
}

pub(crate) fn parse_target(rest: &str) -> Option<Target> {
    if let Some(at) = rest.rfind("/referrers/") {
        let tail = &rest[at + "/referrers/".len()..];
        if !tail.contains('/') {
            return Some(Target::Referrers(rest[..at].into(), tail.into()));
        }
    }
    if let Some(repo) = rest.strip_suffix("/tags/list") {
        return Some(Target::Tags(repo.into()));
    }
    if let Some(at) = rest.rfind("/blobs/uploads") {
        let repo = &rest[..at];
        let tail = rest[at + "/blobs/uploads".len()..].trim_start_matches('/');
        return Some(if tail.is_empty() {
            Target::UploadStart(repo.into())
        } else {
            Target::Upload(repo.into(), tail.into())
        });
    }
    if let Some(at) = rest.rfind("/blobs/") {
        return Some(Target::Blob(rest[..at].into(), rest[at + 7..].into()));
    }
    if let Some(at) = rest.rfind("/manifests/") {
        return Some(Target::Manifest(rest[..at].into(), rest[at + 11..].into()));
    }
    None
}

pub(crate) fn router(registry: Arc<Registry>) -> Router {
    Router::new()
        .route("/v2", get(base))
        .route("/v2/", get(base))
        .route("/v2/token", get(token))
        .route("/v2/_catalog", get(catalog))
        .route("/v2/{*rest}", axum::routing::any(dispatch))
        .layer(axum::middleware::map_response(api_version))
        .with_state(registry)
}

async fn api_version(mut response: Response) -> Response {
    response.headers_mut().insert(
        "docker-distribution-api-version",
        HeaderValue::from_static("registry/2.0"),
    );
    response
}

async fn base(State(registry): State<Arc<Registry>>, headers: HeaderMap) -> Response {
    match registry.auth.require(&headers, &[]) {
        Ok(()) => Json(serde_json::json!({})).into_response(),
        Err(err) => err.into_response(),
    }
}

async fn token(
    State(registry): State<Arc<Registry>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(query.as_deref().unwrap_or("")).unwrap_or_default();
    match auth::token_request(&registry.auth, &headers, &pairs) {
        Ok(answer) => Json(answer).into_response(),
        Err(err) => err.into_response(),
    }
}

/// The query string as pairs (repeated keys kept).
pub(crate) fn query_pairs(query: &Option<String>) -> Vec<(String, String)> {
    serde_urlencoded::from_str(query.as_deref().unwrap_or("")).unwrap_or_default()
}

/// The first value of `key` in the query.
pub(crate) fn query_value<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// Applies `n` and `last` to a sorted list; returns the page and the `Link` header.
fn paginate(
    items: Vec<String>,
    pairs: &[(String, String)],
    path: &str,
) -> Result<(Vec<String>, Option<String>), RegistryError> {
    let last = query_value(pairs, "last");
    let mut page: Vec<String> = items
        .into_iter()
        .filter(|item| last.is_none_or(|l| item.as_str() > l))
        .collect();
    let Some(n) = query_value(pairs, "n") else {
        return Ok((page, None));
    };
    let n: usize = n.parse().map_err(|_| {
        RegistryError::new(
            ErrorCode::Unsupported,
            format!("n={n:?} is not a number of entries"),
        )
    })?;
    if page.len() <= n {
        return Ok((page, None));
    }
    page.truncate(n);
    let link = page
        .last()
        .map(|l| format!("<{path}?n={n}&last={l}>; rel=\"next\""));
    Ok((page, link))
}

fn with_link(body: serde_json::Value, link: Option<String>) -> Response {
    let mut response = Json(body).into_response();
    if let Some(value) = link.and_then(|l| HeaderValue::from_str(&l).ok()) {
        response.headers_mut().insert("link", value);
    }
    response
}

async fn catalog(
    State(registry): State<Arc<Registry>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, RegistryError> {
    registry.auth.require(&headers, &[Scope::catalog()])?;
    let repos: Vec<String> = registry
        .meta
        .all_repositories()
        .await?
        .into_iter()
        .filter(|r| !r.manifests.is_empty())
        .map(|r| r.name.to_string())
        .collect();
    let (page, link) = paginate(repos, &query_pairs(&query), "/v2/_catalog")?;
    Ok(with_link(serde_json::json!({ "repositories": page }), link))
}

async fn tags_list(
    registry: &Registry,
    repo: &RepoName,
    query: &Option<String>,
) -> Result<Response, RegistryError> {
    let tags = registry.meta.tags(repo).await?;
    let known = !tags.is_empty()
        || registry
            .meta
            .app_repositories(repo.app())
            .await?
            .iter()
            .any(|r| r.name == *repo);
    if !known {
        return Err(RegistryError::new(
            ErrorCode::NameUnknown,
            format!("repository {repo} does not exist: push an image to it first"),
        ));
    }
    let path = format!("/v2/{repo}/tags/list");
    let (page, link) = paginate(tags, &query_pairs(query), &path)?;
    Ok(with_link(
        serde_json::json!({ "name": repo.as_str(), "tags": page }),
        link,
    ))
}

/// Everything under `/v2/<name>/…`.
async fn dispatch(
    State(registry): State<Arc<Registry>>,
    method: Method,
    Path(rest): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = route(&registry, method, &rest, query, headers, body).await;
    result.unwrap_or_else(IntoResponse::into_response)
}

async fn route(
    registry: &Arc<Registry>,
    method: Method,
    rest: &str,
    query: Option<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, RegistryError> {
    let Some(target) = parse_target(rest) else {
        return Err(RegistryError::new(
            ErrorCode::Unsupported,
            format!("/v2/{rest} is not an endpoint of the OCI distribution API"),
        ));
    };
    let repo_text = match &target {
        Target::Tags(r)
        | Target::Manifest(r, _)
        | Target::UploadStart(r)
        | Target::Upload(r, _)
        | Target::Blob(r, _)
        | Target::Referrers(r, _) => r.clone(),
    };
    let reading = method == Method::GET || method == Method::HEAD;
    let actions: &[&str] = match (&method, &target) {
        (m, _) if m == Method::GET || m == Method::HEAD => &["pull"],
        (m, _) if m == Method::DELETE && !matches!(target, Target::Upload(..)) => &["delete"],
        _ => &["pull", "push"],
    };
    let mut wanted = vec![Scope::repository(&repo_text, actions)];
    let pairs = query_pairs(&query);
    if let (Target::UploadStart(_), Some(from)) = (&target, query_value(&pairs, "from")) {
        wanted.push(Scope::repository(from, &["pull"]));
    }
    // Authenticate before validating, so unauthenticated clients learn nothing.
    registry.auth.require(&headers, &wanted[..1])?;
    let repo = RepoName::parse(&repo_text)?;
    let pushing = matches!(
        (&method, &target),
        (&Method::POST, Target::UploadStart(_)) | (&Method::PUT, Target::Manifest(..))
    );
    if pushing {
        registry.require_app(&repo).await?;
    }
    let unsupported = || {
        RegistryError::new(
            ErrorCode::Unsupported,
            format!("{method} is not supported on /v2/{rest}"),
        )
    };
    match target {
        Target::Tags(_) if reading => tags_list(registry, &repo, &query).await,
        Target::Manifest(_, reference) => match method {
            Method::GET | Method::HEAD => {
                registry
                    .get_manifest(&repo, &reference, &headers, method == Method::HEAD)
                    .await
            }
            Method::PUT => {
                registry
                    .put_manifest(&repo, &reference, &headers, body)
                    .await
            }
            Method::DELETE => registry.delete_manifest(&repo, &reference).await,
            _ => Err(unsupported()),
        },
        Target::Blob(_, digest) => {
            let digest = Digest::parse(&digest)?;
            match method {
                Method::GET | Method::HEAD => {
                    registry
                        .get_blob(&repo, &digest, &headers, method == Method::HEAD)
                        .await
                }
                Method::DELETE => registry.delete_blob_link(&repo, &digest).await,
                _ => Err(unsupported()),
            }
        }
        Target::Referrers(_, digest) if reading => {
            let digest = Digest::parse(&digest)?;
            registry
                .referrers(&repo, &digest, query_value(&pairs, "artifactType"))
                .await
        }
        Target::UploadStart(_) if method == Method::POST => {
            let may_mount = wanted.len() > 1 && registry.auth.require(&headers, &wanted).is_ok();
            registry
                .start_upload(&repo, &pairs, may_mount, &headers, body)
                .await
        }
        Target::Upload(_, id) => match method {
            Method::PATCH => registry.patch_upload(&repo, &id, &headers, body).await,
            Method::PUT => registry.finish_upload(&repo, &id, &pairs, body).await,
            Method::GET => registry.upload_status(&repo, &id).await,
            Method::DELETE => registry.cancel_upload(&repo, &id).await,
            _ => Err(unsupported()),
        },
        _ => Err(unsupported()),
    }
}

/// `202`/`201`/`204` with the given headers.
pub(crate) fn status_with(status: StatusCode, headers: &[(&str, String)]) -> Response {
    let mut response = status.into_response();
    for (name, value) in headers {
        if let Ok(value) = HeaderValue::from_str(value) {
            response.headers_mut().insert(
                axum::http::HeaderName::from_bytes(name.as_bytes()).expect("static header name"),
                value,
            );
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        assert_eq!(
            parse_target("app/img/manifests/v1"),
            Some(Target::Manifest("app/img".into(), "v1".into()))
        );
        assert_eq!(
            parse_target("app/blobs/uploads/"),
            Some(Target::UploadStart("app".into()))
        );
        assert_eq!(
            parse_target("app/img/blobs/uploads/abc"),
            Some(Target::Upload("app/img".into(), "abc".into()))
        );
        assert_eq!(
            parse_target("a/b/blobs/sha256:00"),
            Some(Target::Blob("a/b".into(), "sha256:00".into()))
        );
        assert_eq!(
            parse_target("a/b/tags/list"),
            Some(Target::Tags("a/b".into()))
        );
        assert_eq!(
            parse_target("a/referrers/sha256:00"),
            Some(Target::Referrers("a".into(), "sha256:00".into()))
        );
        assert_eq!(
            parse_target("a/referrers/manifests/v1"),
            Some(Target::Manifest("a/referrers".into(), "v1".into()))
        );
        assert_eq!(parse_target("a/b"), None);
    }
}
