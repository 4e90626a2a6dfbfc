//! A registry on 127.0.0.1:0 over a real SQLite store, and helpers to talk to it.
#![allow(dead_code)]

pub mod api;

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use hangar_registry::{Registry, RegistryConfig};
use hangar_store::Store;
use hangar_store_sqlite::SqliteStore;

/// A running registry with its token and directory.
pub struct TestRegistry {
    pub registry: Arc<Registry>,
    pub addr: SocketAddr,
    pub token: String,
    pub dir: tempfile::TempDir,
    server: tokio::task::JoinHandle<()>,
}

impl TestRegistry {
    /// Starts a registry; `configure` may change its config (quota, grace).
    pub async fn start_with(configure: impl FnOnce(&mut RegistryConfig)) -> TestRegistry {
        let dir = tempfile::Builder::new()
            .prefix("hangar-registry-")
            .tempdir()
            .unwrap();
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("cp.db")).unwrap());
        let token = format!("tok-{}", std::process::id());
        let mut config = RegistryConfig::new(dir.path().join("registry"), token.clone());
        configure(&mut config);
        let registry = Registry::open(config, store).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = registry.router();
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        TestRegistry {
            registry,
            addr,
            token,
            dir,
            server,
        }
    }

    pub async fn start() -> TestRegistry {
        Self::start_with(|_| {}).await
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `127.0.0.1:PORT`
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    /// Number of blob files on disk.
    pub fn blob_files(&self) -> usize {
        std::fs::read_dir(self.dir.path().join("registry/blobs/sha256"))
            .map(|d| d.count())
            .unwrap_or(0)
    }
}

impl Drop for TestRegistry {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Whether a program is on PATH; prints a loud SKIPPED line when not.
pub fn have_tool(tool: &str, test: &str, package: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !found {
        eprintln!("SKIPPED {test}: `{tool}` is not installed (apt-get install -y {package})");
    }
    found
}

/// Runs a command, panicking with its output when it fails; returns stdout.
pub fn run(program: &str, args: &[&str]) -> String {
    let output = Command::new(program).args(args).output().unwrap();
    assert!(
        output.status.success(),
        "{program} {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Runs a command and returns (success, stdout + stderr).
pub fn try_run(program: &str, args: &[&str]) -> (bool, String) {
    let output = Command::new(program).args(args).output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

/// A busybox OCI layout under `dir` (None and SKIPPED when busybox-static is missing).
/// The image prints the marker (one line) and sleeps.
pub fn busybox_layout(dir: &Path, marker: &str) -> Option<hangar_testbed::BusyboxImage> {
    let line = format!("{marker}\n");
    hangar_testbed::busybox_image(
        dir,
        &["/bin/sh", "-c", "cat /marker; sleep 3600"],
        &[("/marker", &line, 0o644)],
    )
}
