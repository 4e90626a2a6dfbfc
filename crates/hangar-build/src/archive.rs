//! Converting a `docker save` archive into an OCI image layout: the config
//! is kept as it is, each layer tar is gzip-compressed as a blob.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use hangar_image::layout::LayoutWriter;
use serde::Deserialize;

use crate::error::BuildError;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ArchiveImage {
    config: String,
    layers: Vec<String>,
}

/// Reads `archive` (a `docker save` tarball of one image) and writes it into
/// the layout `out` under `tag`; returns the manifest digest.
pub(crate) fn docker_archive_to_layout(
    archive: &Path,
    out: &Path,
    tag: &str,
) -> Result<String, BuildError> {
    let read_error = BuildError::io(format!("reading {}", archive.display()));
    let mut files = std::collections::HashMap::new();
    let mut tar = tar::Archive::new(File::open(archive).map_err(read_error)?);
    for entry in tar
        .entries()
        .map_err(BuildError::io(format!("reading {}", archive.display())))?
    {
        let mut entry = entry.map_err(BuildError::io(format!("reading {}", archive.display())))?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let name = entry
            .path()
            .map_err(BuildError::io("reading an archive entry name"))?
            .to_string_lossy()
            .into_owned();
        let mut bytes = Vec::new();
        entry
            .read_to_end(&mut bytes)
            .map_err(BuildError::io(format!("reading {name} from the archive")))?;
        files.insert(name, bytes);
    }
    let missing = |what: &str| BuildError::BuilderFailed {
        builder: "docker".into(),
        message: format!("the exported image has no {what}"),
    };
    let manifest: Vec<ArchiveImage> = files
        .get("manifest.json")
        .and_then(|b| serde_json::from_slice(b).ok())
        .ok_or_else(|| missing("manifest.json"))?;
    let image = manifest.first().ok_or_else(|| missing("image"))?;
    let writer = LayoutWriter::create(out)?;
    let mut layers = Vec::new();
    for layer in &image.layers {
        let bytes = files.get(layer).ok_or_else(|| missing(layer))?;
        layers.push(writer.add_layer_from_tar(bytes, true)?);
    }
    let config = files
        .get(&image.config)
        .ok_or_else(|| missing(&image.config))?;
    let config_digest = writer.add_blob(config)?;
    crate::layout::write_manifest(&writer, &layers, config_digest, config.len() as u64, tag)
}
