//! Making a Machine's image available to Docker: its unpacked layers are
//! packed into a `docker save` archive and loaded once, under a tag derived
//! from the image reference and its layers.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;

use bollard::query_parameters::ImportImageOptionsBuilder;
use bollard::Docker;
use futures_util::StreamExt;
use hangar_driver::{DriverError, MachineSpec};
use sha2::{Digest, Sha256};
use tokio::sync::Mutex;

use crate::client::{is_not_found, message};

/// The repository every image the driver loads is tagged in.
pub(crate) const IMAGE_REPOSITORY: &str = "hangar.local/machine";
/// Label carrying the Hangar image reference on a loaded image.
pub(crate) const IMAGE_REF_LABEL: &str = "dev.hangar.image-ref";

/// Images this driver has loaded (or found loaded) since it started.
pub(crate) struct ImageLoader {
    docker: Docker,
    /// Value of [`crate::OWNER_LABEL`] on the images it loads.
    owner: String,
    loaded: std::sync::Mutex<HashSet<String>>,
    /// Serialises loads so the same image is never packed twice at once.
    loading: Mutex<()>,
}

/// The Docker tag the driver loads `image_ref` with exactly `layers` under.
pub fn image_tag(image_ref: &str, layers: &[PathBuf]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(image_ref.as_bytes());
    for layer in layers {
        hasher.update(b"\0");
        hasher.update(layer.as_os_str().as_encoded_bytes());
    }
    let digest = hex::encode(hasher.finalize());
    format!("{IMAGE_REPOSITORY}:{}", &digest[..32])
}

impl ImageLoader {
    pub fn new(docker: Docker, owner: String) -> Self {
        ImageLoader {
            docker,
            owner,
            loaded: std::sync::Mutex::new(HashSet::new()),
            loading: Mutex::new(()),
        }
    }

    fn is_known(&self, tag: &str) -> bool {
        self.loaded.lock().map(|l| l.contains(tag)).unwrap_or(false)
    }

    fn remember(&self, tag: &str) {
        if let Ok(mut loaded) = self.loaded.lock() {
            loaded.insert(tag.to_owned());
        }
    }

    /// Forgets that `tag` is loaded (it was removed), so the next start loads it again.
    pub fn forget(&self, tag: &str) {
        if let Ok(mut loaded) = self.loaded.lock() {
            loaded.remove(tag);
        }
    }

    /// Returns the tag of `spec`'s image in the daemon, loading it first if needed.
    pub async fn ensure(&self, spec: &MachineSpec) -> Result<String, DriverError> {
        if spec.layers.is_empty() {
            return Err(DriverError::InvalidSpec(format!(
                "machine {} has an image ({}) without layers; the Docker driver needs at least one",
                spec.machine_id, spec.image_ref
            )));
        }
        let tag = image_tag(&spec.image_ref, &spec.layers);
        if self.is_known(&tag) {
            return Ok(tag);
        }
        let _loading = self.loading.lock().await;
        if self.is_known(&tag) {
            return Ok(tag);
        }
        match self.docker.inspect_image(&tag).await {
            Ok(_) => {
                self.remember(&tag);
                return Ok(tag);
            }
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(self.load_failed(spec, message(&e))),
        }
        self.load(spec, &tag).await?;
        self.remember(&tag);
        Ok(tag)
    }

    fn load_failed(&self, spec: &MachineSpec, detail: String) -> DriverError {
        DriverError::StartFailed {
            machine_id: spec.machine_id.clone(),
            reason: format!("cannot load image {} into Docker: {detail}", spec.image_ref),
        }
    }

    async fn load(&self, spec: &MachineSpec, tag: &str) -> Result<(), DriverError> {
        let labels = BTreeMap::from([
            (crate::MANAGED_LABEL.to_owned(), "true".to_owned()),
            (crate::OWNER_LABEL.to_owned(), self.owner.clone()),
            (IMAGE_REF_LABEL.to_owned(), spec.image_ref.clone()),
        ]);
        let archive = tempfile::NamedTempFile::new()
            .map_err(|e| DriverError::io("creating a temporary image archive", "/tmp", e))?;
        let out = archive
            .reopen()
            .map_err(|e| DriverError::io("opening the image archive", archive.path(), e))?;
        let layers = spec.layers.clone();
        let owned_tag = tag.to_owned();
        tokio::task::spawn_blocking(move || {
            crate::layer_tar::write_archive(&layers, &owned_tag, &labels, out)
        })
        .await
        .map_err(|e| self.load_failed(spec, e.to_string()))?
        .map_err(|e| self.load_failed(spec, format!("packing its layers: {e}")))?;
        let file = tokio::fs::File::open(archive.path())
            .await
            .map_err(|e| DriverError::io("reading the image archive", archive.path(), e))?;
        let body = tokio_util::io::ReaderStream::new(file);
        let options = ImportImageOptionsBuilder::default().quiet(true).build();
        let mut progress = self.docker.import_image_stream(options, body, None);
        while let Some(step) = progress.next().await {
            step.map_err(|e| self.load_failed(spec, message(&e)))?;
        }
        self.docker.inspect_image(tag).await.map_err(|e| {
            self.load_failed(spec, format!("not present after loading: {}", message(&e)))
        })?;
        tracing::info!(image = %spec.image_ref, %tag, "loaded image into Docker");
        Ok(())
    }
}
