//! Where a stage starts: `scratch`, `host`, an earlier stage, or an image
//! pulled through `hangar-image`.

use std::path::{Path, PathBuf};

use hangar_image::layout::{LayerBlob, LayoutWriter};
use hangar_image::ImageStore;

use super::config::RunConfig;
use super::fsview::FsView;
use crate::error::BuildError;
use crate::host;
use crate::layout::write_layer;

/// A stage's starting point (also a finished stage).
#[derive(Debug, Clone, Default)]
pub(crate) struct StageImage {
    /// Layers already written into the output layout, bottom first.
    pub layers: Vec<LayerBlob>,
    pub config: RunConfig,
    pub fs: FsView,
}

/// The base `FROM scratch` gives.
pub(crate) fn scratch() -> StageImage {
    StageImage::default()
}

/// The `FROM host` base (see [`crate::host`]).
pub(crate) fn host_base(writer_dir: &Path, mtime: u64) -> Result<StageImage, BuildError> {
    let entries = host::base_layer(Path::new("/")).map_err(BuildError::io(
        "reading the host's /etc for the host base image",
    ))?;
    let layer = write_layer(writer_dir, &entries, mtime)?;
    let mut config = RunConfig::default();
    config.set_env("PATH", host::HOST_PATH);
    config
        .labels
        .insert(host::HOST_BASE_LABEL.to_owned(), "host".to_owned());
    let mut fs = FsView {
        lowers: vec![PathBuf::from("/")],
        ..FsView::default()
    };
    fs.add(&entries);
    Ok(StageImage {
        layers: vec![layer],
        config,
        fs,
    })
}

/// Opens the store base images are pulled into.
pub(crate) fn open_store(given: Option<&ImageStore>) -> Result<ImageStore, String> {
    if let Some(store) = given {
        return Ok(store.clone());
    }
    let dir = std::env::var_os("HANGAR_BUILD_IMAGES")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/hangar/build-images"))
        })
        .unwrap_or_else(|| std::env::temp_dir().join("hangar-build-images"));
    ImageStore::open(&dir).map_err(|e| e.to_string())
}

/// Pulls `reference` and copies its layers into the output layout.
pub(crate) async fn image(
    store: &ImageStore,
    reference: &str,
    writer: &LayoutWriter,
) -> Result<StageImage, String> {
    let resolved = store.resolve(reference).await.map_err(|e| e.to_string())?;
    let mut layers = Vec::new();
    for dir in &resolved.layers {
        // The store keeps layers unpacked; they are archived again (sorted,
        // mtime 0), so the same base always gives the same blobs.
        layers.push(
            writer
                .add_layer_from_directory(dir)
                .map_err(|e| format!("copying layer {}: {e}", dir.display()))?,
        );
    }
    Ok(StageImage {
        layers,
        config: RunConfig::from_image(&resolved.config),
        fs: FsView {
            lowers: resolved.layers.clone(),
            ..FsView::default()
        },
    })
}
