//! How well a driver isolates Machines on this host.

use std::fmt;

/// The isolation a driver provides, decided by probing the host at construction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Isolation {
    /// Every Machine has its own namespaces, root filesystem, cgroup limits and network.
    Full,
    /// Machines are isolated, but some guarantees are missing for the listed reasons.
    Partial { reasons: Vec<String> },
    /// Machines run as plain host processes, for the listed reasons.
    None { reasons: Vec<String> },
}

impl Isolation {
    /// The reasons isolation is incomplete (empty for [`Isolation::Full`]).
    pub fn reasons(&self) -> &[String] {
        match self {
            Isolation::Full => &[],
            Isolation::Partial { reasons } | Isolation::None { reasons } => reasons,
        }
    }

    /// True when Machines run in their own namespaces at all.
    pub fn is_isolated(&self) -> bool {
        !matches!(self, Isolation::None { .. })
    }
}

impl fmt::Display for Isolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Isolation::Full => write!(f, "full isolation"),
            Isolation::Partial { reasons } => {
                write!(f, "PARTIAL isolation: {}", reasons.join("; "))
            }
            Isolation::None { reasons } => {
                write!(
                    f,
                    "NO isolation (machines run as plain host processes): {}",
                    reasons.join("; ")
                )
            }
        }
    }
}
