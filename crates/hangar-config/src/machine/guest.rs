//! Guest presets (`shared-cpu-1x` … `performance-16x`, GPU sizes) and `[[vm]]` resolution.

use super::MachineGuest;
use crate::model::Compute;
use crate::units::parse_ram_size_mb;

/// Every preset name, in order.
pub const PRESET_NAMES: [&str; 18] = [
    "shared-cpu-1x",
    "shared-cpu-2x",
    "shared-cpu-4x",
    "shared-cpu-6x",
    "shared-cpu-8x",
    "performance-1x",
    "performance-2x",
    "performance-4x",
    "performance-6x",
    "performance-8x",
    "performance-10x",
    "performance-12x",
    "performance-14x",
    "performance-16x",
    "a100-40gb",
    "a100-80gb",
    "l40s",
    "a10",
];

/// Preset used when `[[vm]]` names no size.
pub const DEFAULT_SIZE: &str = "shared-cpu-1x";
/// Preset used when `[[vm]]` names a `gpu_kind` but no size.
pub const DEFAULT_GPU_SIZE: &str = "performance-8x";

const SHARED_MB_PER_CPU: i64 = 256;
const PERFORMANCE_MB_PER_CPU: i64 = 2048;

/// Why a `[[vm]]` cannot become a guest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GuestError {
    /// `size` is not a preset.
    #[error("unknown VM size {size:?}; valid sizes are: {valid}")]
    UnknownSize {
        /// Requested size.
        size: String,
        /// Valid sizes of the same family.
        valid: String,
    },
    /// `memory` is not a size.
    #[error("invalid memory {memory:?}: write megabytes (512) or a size with a unit (\"1gb\")")]
    InvalidMemory {
        /// The value.
        memory: String,
    },
    /// `memory` resolves to 0.
    #[error("memory cannot be zero; set memory to at least 256 (MB)")]
    ZeroMemory,
}

/// The guest of a preset.
pub fn guest_for_size(size: &str) -> Result<MachineGuest, GuestError> {
    let gpu = |kind: &str| MachineGuest {
        cpu_kind: Some("performance".into()),
        cpus: Some(8),
        memory_mb: Some(32768),
        gpus: Some(1),
        gpu_kind: Some(kind.into()),
        ..MachineGuest::default()
    };
    let counted = |prefix: &str, kind: &str, per_cpu: i64, allowed: &[i64]| {
        let cpus: i64 = size.strip_prefix(prefix)?.strip_suffix('x')?.parse().ok()?;
        allowed.contains(&cpus).then(|| MachineGuest {
            cpu_kind: Some(kind.into()),
            cpus: Some(cpus),
            memory_mb: Some(cpus * per_cpu),
            ..MachineGuest::default()
        })
    };
    let found = match size {
        "a100-40gb" => Some(gpu("a100-pcie-40gb")),
        "a100-80gb" => Some(gpu("a100-sxm4-80gb")),
        "l40s" => Some(gpu("l40s")),
        "a10" => Some(gpu("a10")),
        _ => counted("shared-cpu-", "shared", SHARED_MB_PER_CPU, &[1, 2, 4, 6, 8]).or_else(|| {
            counted(
                "performance-",
                "performance",
                PERFORMANCE_MB_PER_CPU,
                &[1, 2, 4, 6, 8, 10, 12, 14, 16],
            )
        }),
    };
    found.ok_or_else(|| {
        let family: Vec<&str> = if size.starts_with("shared") {
            PRESET_NAMES
                .iter()
                .copied()
                .filter(|n| n.starts_with("shared"))
                .collect()
        } else if size.starts_with("performance") {
            PRESET_NAMES
                .iter()
                .copied()
                .filter(|n| n.starts_with("performance"))
                .collect()
        } else {
            PRESET_NAMES.to_vec()
        };
        GuestError::UnknownSize {
            size: size.to_string(),
            valid: family.join(", "),
        }
    })
}

/// Resolves a `[[vm]]`: preset from `size` (default `shared-cpu-1x`, or `performance-8x` with a
/// GPU), then `memory`, then every explicit guest key. `host_dedication_id` is the effective one
/// for the group (the entry's own, else the top-level one).
pub fn resolve_compute(
    compute: &Compute,
    host_dedication_id: Option<&str>,
) -> Result<MachineGuest, GuestError> {
    let size = match (&compute.size, &compute.gpu_kind) {
        (Some(size), _) if !size.is_empty() => size.as_str(),
        (_, Some(kind)) if !kind.is_empty() => DEFAULT_GPU_SIZE,
        _ => DEFAULT_SIZE,
    };
    let mut guest = guest_for_size(size)?;
    if let Some(memory) = compute.memory.as_deref().filter(|m| !m.is_empty()) {
        let mb = parse_ram_size_mb(memory).map_err(|_| GuestError::InvalidMemory {
            memory: memory.to_string(),
        })?;
        if mb == 0 {
            return Err(GuestError::ZeroMemory);
        }
        guest.memory_mb = Some(mb);
    }
    if let Some(kind) = compute.cpu_kind.as_ref().filter(|k| !k.is_empty()) {
        guest.cpu_kind = Some(kind.clone());
    }
    if let Some(cpus) = compute.cpus.filter(|c| *c != 0) {
        guest.cpus = Some(cpus);
    }
    if let Some(memory_mb) = compute.memory_mb.filter(|m| *m != 0) {
        guest.memory_mb = Some(memory_mb);
    }
    if let Some(max) = compute.max_memory_mb.filter(|m| *m != 0) {
        guest.max_memory_mb = Some(max);
    }
    if let Some(gpus) = compute.gpus.filter(|g| *g != 0) {
        guest.gpus = Some(gpus);
    }
    if let Some(kind) = compute.gpu_kind.as_ref().filter(|k| !k.is_empty()) {
        guest.gpu_kind = Some(kind.clone());
    }
    if !compute.kernel_args.is_empty() {
        guest.kernel_args = compute.kernel_args.clone();
    }
    if let Some(persist) = compute.persist_rootfs.as_ref().filter(|p| !p.is_empty()) {
        guest.persist_rootfs = Some(persist.clone());
    }
    if let Some(id) = host_dedication_id.filter(|id| !id.is_empty()) {
        guest.host_dedication_id = Some(id.to_string());
    }
    Ok(guest)
}
