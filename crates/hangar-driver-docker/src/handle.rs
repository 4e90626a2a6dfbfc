//! What the driver keeps in a [`TaskHandle`]'s `data`.

use hangar_driver::{DriverError, TaskHandle};
use serde::{Deserialize, Serialize};

/// The driver's part of a persisted handle.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct HandleData {
    /// The container's full ID.
    pub container_id: String,
    /// The Hangar network the container is attached to, if any.
    pub network: Option<String>,
}

impl HandleData {
    /// Reads the driver's data out of `handle`, refusing other drivers' handles.
    pub fn from_handle(handle: &TaskHandle) -> Result<HandleData, DriverError> {
        let bad = |reason: String| DriverError::BadHandle {
            machine_id: handle.machine_id.clone(),
            driver: crate::driver::NAME,
            reason,
        };
        if handle.driver != crate::driver::NAME {
            return Err(bad(format!("it was made by the {} driver", handle.driver)));
        }
        serde_json::from_value(handle.data.clone()).map_err(|e| bad(e.to_string()))
    }

    pub fn to_value(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}
