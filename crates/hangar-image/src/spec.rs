//! The subset of the OCI image and distribution JSON documents the store reads and writes.
//!
//! Docker's v2 schema 2 documents share these shapes; only media types differ.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub(crate) const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub(crate) const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub(crate) const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub(crate) const OCI_LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
pub(crate) const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub(crate) const DOCKER_MANIFEST_LIST: &str =
    "application/vnd.docker.distribution.manifest.list.v2+json";
pub(crate) const DOCKER_MANIFEST_V1: &str = "application/vnd.docker.distribution.manifest.v1+json";
pub(crate) const DOCKER_MANIFEST_V1_SIGNED: &str =
    "application/vnd.docker.distribution.manifest.v1+prettyjws";

/// Annotation that names an image inside an OCI layout's index.json.
pub(crate) const REF_NAME_ANNOTATION: &str = "org.opencontainers.image.ref.name";

/// Largest manifest or index accepted, as the distribution spec recommends.
pub(crate) const MAX_MANIFEST_BYTES: u64 = 4 << 20;
/// Largest image config accepted.
pub(crate) const MAX_CONFIG_BYTES: u64 = 16 << 20;

/// A pointer to content: media type, digest and size.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Descriptor {
    #[serde(default)]
    pub media_type: String,
    pub digest: String,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

/// The platform an index entry is built for.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct Platform {
    pub architecture: String,
    pub os: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

/// An image manifest: one config and its layers, bottom first.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Manifest {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
}

/// An image index (or Docker manifest list): manifests per platform.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Index {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    #[serde(default)]
    pub manifests: Vec<Descriptor>,
}

/// The image configuration blob.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct ConfigFile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub architecture: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<ContainerConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rootfs: Option<RootFs>,
}

/// The runtime defaults inside an image config (`config` key, Docker's field names).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ContainerConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exposed_ports: Option<BTreeMap<String, serde_json::Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmd: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
}

/// The uncompressed digests (diff IDs) of the layers, bottom first.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct RootFs {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub diff_ids: Vec<String>,
}

/// `oci-layout` marker file contents.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct LayoutMarker {
    pub image_layout_version: String,
}

/// One image in a `docker save` archive's manifest.json.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DockerArchiveEntry {
    pub config: String,
    #[serde(default)]
    pub repo_tags: Option<Vec<String>>,
    pub layers: Vec<String>,
}

/// A manifest document of either kind, told apart by media type or shape.
pub(crate) enum ManifestDocument {
    Image(Manifest),
    Index(Index),
}

impl ManifestDocument {
    /// Parses bytes served as `content_type` (which may be empty or generic).
    pub(crate) fn parse(bytes: &[u8], content_type: Option<&str>) -> Result<Self, String> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Probe {
            #[serde(default)]
            schema_version: Option<u32>,
            #[serde(default)]
            media_type: Option<String>,
            #[serde(default)]
            manifests: Option<serde_json::Value>,
            #[serde(default)]
            layers: Option<serde_json::Value>,
        }
        let probe: Probe = serde_json::from_slice(bytes)
            .map_err(|e| format!("manifest is not valid JSON: {e}"))?;
        let media_type = probe
            .media_type
            .clone()
            .or_else(|| content_type.map(|c| c.split(';').next().unwrap_or("").trim().to_owned()))
            .unwrap_or_default();
        if probe.schema_version == Some(1)
            || media_type == DOCKER_MANIFEST_V1
            || media_type == DOCKER_MANIFEST_V1_SIGNED
        {
            return Err(
                "Docker schema 1 manifests are not supported; re-push the image with a current client"
                    .to_owned(),
            );
        }
        let is_index = media_type == OCI_INDEX
            || media_type == DOCKER_MANIFEST_LIST
            || (probe.manifests.is_some() && probe.layers.is_none());
        if is_index {
            serde_json::from_slice(bytes)
                .map(ManifestDocument::Index)
                .map_err(|e| format!("image index is malformed: {e}"))
        } else {
            serde_json::from_slice(bytes)
                .map(ManifestDocument::Image)
                .map_err(|e| format!("image manifest is malformed: {e}"))
        }
    }
}

/// The OCI name of the architecture this process runs on.
pub(crate) fn host_architecture() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        "loongarch64" => "loong64",
        other => other,
    }
}
