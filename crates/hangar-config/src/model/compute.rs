//! `[[vm]]`: the guest (CPU, memory, GPU) of a process group.

use serde::Serialize;

/// One `[[vm]]` entry. `size` picks a preset, `memory` overrides its memory, and every explicit
/// guest key overrides both.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Compute {
    /// Preset name (`shared-cpu-1x` … `performance-16x`, `a100-40gb`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<String>,
    /// Memory as a size string; a bare number is MB.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<String>,
    /// `shared` or `performance`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_kind: Option<String>,
    /// Number of CPUs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpus: Option<i64>,
    /// Memory in MB.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_mb: Option<i64>,
    /// Memory ceiling in MB.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_memory_mb: Option<i64>,
    /// Number of GPUs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gpus: Option<i64>,
    /// GPU model.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gpu_kind: Option<String>,
    /// Dedicated-host group (wins over the top-level one for this group).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_dedication_id: Option<String>,
    /// Extra kernel arguments.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub kernel_args: Vec<String>,
    /// `never`, `restart` or `always`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub persist_rootfs: Option<String>,
    /// Groups this entry applies to (empty = every group).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub processes: Vec<String>,
}
