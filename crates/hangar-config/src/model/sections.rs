//! Smaller sections: `[experimental]`, `[[mounts]]`, `[[files]]`, `[[restart]]`, `[[statics]]`,
//! `[[metrics]]`.

use std::collections::BTreeMap;

use serde::Serialize;

/// `[experimental]`.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Experimental {
    /// Overrides the image CMD (a `[processes]` command wins).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cmd: Option<Vec<String>>,
    /// Overrides the image ENTRYPOINT.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    /// Overrides ENTRYPOINT and CMD.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exec: Option<Vec<String>>,
    /// Apps v1 leftover; parsed, unused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_rollback: Option<bool>,
    /// Apps v1 leftover; parsed, unused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enable_consul: Option<bool>,
    /// Apps v1 leftover; parsed, unused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enable_etcd: Option<bool>,
    /// Lazy image loading (build option).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lazy_load_images: Option<bool>,
    /// Launch-time attachments.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attached: Option<Attached>,
    /// Inline JSON or path of a base Machine config (wins over the top-level key).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub machine_config: Option<String>,
}

/// `[experimental.attached]`.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Attached {
    /// `[experimental.attached.secrets]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secrets: Option<AttachedSecrets>,
}

/// `[experimental.attached.secrets]`.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct AttachedSecrets {
    /// Secrets exported at launch.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub export: BTreeMap<String, String>,
}

/// `[[mounts]]`: a volume mounted into each Machine of a group.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Mount {
    /// Volume name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Mount path in the guest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
    /// Size of volumes created by deploy; a bare number is GB, units are decimal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initial_size: Option<String>,
    /// Snapshot retention in days (1–60).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot_retention: Option<i64>,
    /// Daily snapshots.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheduled_snapshots: Option<bool>,
    /// Usage percentage that triggers extension (50–99).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_extend_size_threshold: Option<i64>,
    /// Size added per extension (1–100 GB).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_extend_size_increment: Option<String>,
    /// Largest size reached by extension (1–500 GB).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_extend_size_limit: Option<String>,
    /// Groups (empty = default group).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub processes: Vec<String>,
}

/// `[[files]]`: a file written into the guest.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct File {
    /// Absolute path in the guest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guest_path: Option<String>,
    /// Base64 content.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw_value: Option<String>,
    /// Local file read at deploy time (relative to the fly.toml directory).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub local_path: Option<String>,
    /// App secret holding base64 content.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_name: Option<String>,
    /// Groups (empty = every group).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub processes: Vec<String>,
}

/// `[[restart]]`.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Restart {
    /// `always`, `never` or `on-failure`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// Restart attempts for `on-failure`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retries: Option<i64>,
    /// Groups (empty = default group).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub processes: Vec<String>,
}

/// The restart policies a fly.toml may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestartPolicy {
    /// Restart whatever the exit code.
    Always,
    /// Never restart (API `no`).
    Never,
    /// Restart on non-zero exit.
    OnFailure,
}

impl RestartPolicy {
    /// Accepted spellings.
    pub const NAMES: [&'static str; 3] = ["always", "never", "on-failure"];

    /// Parses the fly.toml spelling (`no` and `on-fail` are rejected, as by flyctl).
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "always" => Some(Self::Always),
            "never" => Some(Self::Never),
            "on-failure" => Some(Self::OnFailure),
            _ => None,
        }
    }

    /// The Machines API spelling.
    pub fn api_name(self) -> &'static str {
        match self {
            Self::Always => "always",
            Self::Never => "no",
            Self::OnFailure => "on-failure",
        }
    }
}

/// `[[statics]]`: files served by the proxy from inside the Machine or a Tigris bucket.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Static {
    /// Directory in the guest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guest_path: Option<String>,
    /// URL prefix (required).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url_prefix: Option<String>,
    /// Tigris bucket instead of the guest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tigris_bucket: Option<String>,
    /// Index document (Tigris only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index_document: Option<String>,
}

/// `[[metrics]]`: a Prometheus scrape target.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Metrics {
    /// Port.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<i64>,
    /// Path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Scrape over HTTPS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub https: Option<bool>,
    /// Groups (empty = default group).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub processes: Vec<String>,
}
