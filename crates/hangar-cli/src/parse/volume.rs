//! `--volume VOLUME:/PATH`: a volume (id `vol_…` or name) and where to mount it.

use std::str::FromStr;

/// One `--volume` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeMount {
    /// A volume id (`vol_…`) or a volume name, resolved against the app's volumes.
    pub source: String,
    /// Absolute path inside the machine.
    pub path: String,
}

impl VolumeMount {
    /// Whether `source` is a volume id rather than a name.
    pub fn is_volume_id(&self) -> bool {
        self.source.starts_with("vol_")
    }
}

/// A `--volume` value that cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("invalid volume {input:?}: {reason}; use VOLUME:/PATH, for example vol_0123456789abcdef:/data or data:/data")]
pub struct VolumeMountError {
    input: String,
    reason: &'static str,
}

impl FromStr for VolumeMount {
    type Err = VolumeMountError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let error = |reason| VolumeMountError {
            input: input.to_string(),
            reason,
        };
        let (source, path) = input
            .split_once(':')
            .ok_or_else(|| error("there is no ':' between the volume and the path"))?;
        if source.trim().is_empty() {
            return Err(error("the volume is empty"));
        }
        if !path.starts_with('/') {
            return Err(error("the path must be absolute"));
        }
        if path.contains(':') {
            return Err(error("mount options after the path are not supported yet"));
        }
        Ok(VolumeMount {
            source: source.trim().to_string(),
            path: path.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_names() {
        let by_id: VolumeMount = "vol_0123456789abcdef:/data".parse().unwrap();
        assert!(by_id.is_volume_id());
        assert_eq!(by_id.path, "/data");
        let by_name: VolumeMount = "pgdata:/var/lib/postgresql".parse().unwrap();
        assert!(!by_name.is_volume_id());
        assert_eq!(by_name.source, "pgdata");
    }

    #[test]
    fn malformed_mounts() {
        for bad in ["data", ":/data", "data:rel/path", "data:/x:ro"] {
            let message = bad.parse::<VolumeMount>().unwrap_err().to_string();
            assert!(message.contains("VOLUME:/PATH"), "{bad}: {message}");
        }
    }
}
