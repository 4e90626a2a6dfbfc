//! A small registry speaking the read side of the OCI distribution API over one OCI
//! layout, behind a bearer-token service (and basic auth for `private/*`), for tests.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

use super::blob_path;

pub const TOKEN: &str = "test-token-123";
/// The login `private/*` (basic auth) and `secret/*` (token service) repositories demand.
pub const LOGIN: (&str, &str) = ("robot", "hunter2");
/// `Basic base64("robot:hunter2")`.
const BASIC_HEADER: &str = "Basic cm9ib3Q6aHVudGVyMg==";

/// The read side of the distribution API over one OCI layout, behind a token service.
pub struct TestRegistry {
    layout: PathBuf,
    pub address: SocketAddr,
    requests: AtomicUsize,
}

impl TestRegistry {
    pub async fn start(layout: PathBuf) -> Arc<TestRegistry> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let registry = Arc::new(TestRegistry {
            layout,
            address: listener.local_addr().unwrap(),
            requests: AtomicUsize::new(0),
        });
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&registry));
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        registry
    }

    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    fn blob(&self, digest: &str) -> Option<Vec<u8>> {
        let hex = digest.strip_prefix("sha256:")?;
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        std::fs::read(self.layout.join("blobs/sha256").join(hex)).ok()
    }

    fn tagged(&self, tag: &str) -> Option<String> {
        let index: serde_json::Value =
            serde_json::from_slice(&std::fs::read(self.layout.join("index.json")).ok()?).ok()?;
        index["manifests"].as_array()?.iter().find_map(|m| {
            (m["annotations"]["org.opencontainers.image.ref.name"] == tag)
                .then(|| m["digest"].as_str().unwrap().to_owned())
        })
    }
}

fn registry_error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = serde_json::json!({"errors": [{"code": code, "message": message}]});
    (status, axum::Json(body)).into_response()
}

async fn handle(
    State(registry): State<Arc<TestRegistry>>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    registry.requests.fetch_add(1, Ordering::SeqCst);
    let path = uri.path();
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if path == "/token" {
        let query = uri.query().unwrap_or("");
        let needs_login = query.contains("secret");
        if query.contains("denied") || (needs_login && authorization != BASIC_HEADER) {
            return (StatusCode::UNAUTHORIZED, "access denied").into_response();
        }
        return axum::Json(serde_json::json!({"token": TOKEN})).into_response();
    }
    let Some(rest) = path.strip_prefix("/v2/") else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let (repository, kind, name) = if let Some((repo, name)) = rest.rsplit_once("/manifests/") {
        (repo, "manifests", name)
    } else if let Some((repo, name)) = rest.rsplit_once("/blobs/") {
        (repo, "blobs", name)
    } else {
        (rest, "", "")
    };
    if repository.starts_with("private/") {
        if authorization != BASIC_HEADER {
            return (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Basic realm=\"test-registry\"")],
                "login required",
            )
                .into_response();
        }
    } else if authorization != format!("Bearer {TOKEN}") {
        let challenge = format!(
            "Bearer realm=\"http://{}/token\",service=\"test-registry\",scope=\"repository:{repository}:pull\"",
            registry.address
        );
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, challenge)],
            "unauthorized",
        )
            .into_response();
    }
    if !matches!(
        repository,
        "team/app" | "team/corrupt" | "private/app" | "secret/app"
    ) {
        return registry_error(
            StatusCode::NOT_FOUND,
            "NAME_UNKNOWN",
            "repository name not known to registry",
        );
    }
    match kind {
        "manifests" => {
            let digest = if name.starts_with("sha256:") {
                name.to_owned()
            } else {
                match registry.tagged(name) {
                    Some(digest) => digest,
                    None => {
                        return registry_error(
                            StatusCode::NOT_FOUND,
                            "MANIFEST_UNKNOWN",
                            "manifest unknown",
                        )
                    }
                }
            };
            let Some(bytes) = registry.blob(&digest) else {
                return registry_error(
                    StatusCode::NOT_FOUND,
                    "MANIFEST_UNKNOWN",
                    "manifest unknown",
                );
            };
            let media_type = serde_json::from_slice::<serde_json::Value>(&bytes).unwrap()
                ["mediaType"]
                .as_str()
                .unwrap()
                .to_owned();
            (
                [
                    (header::CONTENT_TYPE, media_type),
                    (
                        header::HeaderName::from_static("docker-content-digest"),
                        digest,
                    ),
                ],
                bytes,
            )
                .into_response()
        }
        "blobs" => match registry.blob(name) {
            Some(mut bytes) => {
                if repository == "team/corrupt" && bytes.len() > 1000 {
                    let middle = bytes.len() / 2;
                    bytes[middle] ^= 0x55;
                }
                ([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response()
            }
            None => registry_error(StatusCode::NOT_FOUND, "BLOB_UNKNOWN", "blob unknown"),
        },
        _ => axum::Json(serde_json::json!({})).into_response(),
    }
}

/// Adds an index tagged `multi` whose entry for this host is `digest`.
pub fn tag_index(layout: &Path, digest: &str) {
    let writer = hangar_image::layout::LayoutWriter::create(layout).unwrap();
    let size = std::fs::metadata(blob_path(layout, digest)).unwrap().len();
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                       "digest": digest, "size": size,
                       "platform": {"os": "linux", "architecture": arch}}]
    });
    let index_digest = writer.add_blob(index.to_string().as_bytes()).unwrap();
    writer
        .tag(
            "multi",
            "application/vnd.oci.image.index.v1+json",
            &index_digest,
        )
        .unwrap();
}
