//! Volumes and snapshots as tables and detail lists.

use hangar_types::{Volume, VolumeSnapshot};

use crate::output::{Details, Table};

/// Whether a volume is gone or going (hidden from `list` unless `--all`).
pub(crate) fn is_destroyed(volume: &Volume) -> bool {
    matches!(
        volume.state.as_str(),
        "destroyed" | "destroying" | "pending_destroy" | "scheduling_destroy"
    )
}

/// flyctl's `volumes list` columns.
pub(crate) fn volume_table(volumes: &[Volume]) -> Table {
    let mut table = Table::new([
        "id",
        "state",
        "name",
        "size",
        "region",
        "zone",
        "encrypted",
        "attached vm",
        "created at",
    ]);
    for volume in volumes {
        table.push_row([
            volume.id.clone(),
            volume.state.clone(),
            volume.name.clone(),
            format!("{}GB", volume.size_gb),
            volume.region.clone(),
            volume.zone.clone(),
            volume.encrypted.to_string(),
            volume.attached_machine_id.clone().unwrap_or_default(),
            volume.created_at.clone(),
        ]);
    }
    table
}

pub(crate) fn volume_details(volume: &Volume) -> Details {
    let mut details = Details::new(format!("Volume {}", volume.id));
    details.push("ID", volume.id.clone());
    details.push("Name", volume.name.clone());
    details.push("State", volume.state.clone());
    details.push("Size", format!("{} GB", volume.size_gb));
    details.push("Region", volume.region.clone());
    details.push("Zone", volume.zone.clone());
    details.push("Encrypted", volume.encrypted.to_string());
    details.push("Filesystem", volume.fstype.clone());
    details.push(
        "Attached Machine",
        volume.attached_machine_id.clone().unwrap_or_default(),
    );
    details.push(
        "Snapshot Retention",
        format!("{} days", volume.snapshot_retention),
    );
    details.push(
        "Scheduled Snapshots",
        volume.auto_backup_enabled.to_string(),
    );
    details.push("Created", volume.created_at.clone());
    details
}

pub(crate) fn snapshot_table(snapshots: &[VolumeSnapshot]) -> Table {
    let mut table = Table::new(["id", "status", "size", "created at", "retention days"]);
    for snapshot in snapshots {
        table.push_row([
            snapshot.id.clone(),
            snapshot.status.clone(),
            snapshot.size.to_string(),
            snapshot.created_at.clone(),
            snapshot.retention_days.to_string(),
        ]);
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    fn volume(state: &str, attached: Option<&str>) -> Volume {
        serde_json::from_value(serde_json::json!({
            "id": "vol_0123456789abcdef", "name": "data", "state": state, "size_gb": 3,
            "region": "dev", "zone": "z1", "encrypted": true,
            "attached_machine_id": attached, "created_at": "2026-11-28T10:00:00Z",
            "blocks": 0, "block_size": 4096, "blocks_free": 0, "blocks_avail": 0,
            "fstype": "ext4", "snapshot_retention": 5, "auto_backup_enabled": true,
            "host_status": "ok"
        }))
        .unwrap()
    }

    #[test]
    fn table_rows_show_size_and_attachment() {
        let text = volume_table(&[volume("created", Some("3d8d413b29d089"))]).render(false);
        let row = text.lines().nth(1).unwrap();
        for cell in [
            "vol_0123456789abcdef",
            "created",
            "data",
            "3GB",
            "3d8d413b29d089",
        ] {
            assert!(row.contains(cell), "{row}");
        }
    }

    #[test]
    fn destroyed_states() {
        assert!(is_destroyed(&volume("pending_destroy", None)));
        assert!(!is_destroyed(&volume("created", None)));
    }

    #[test]
    fn details_include_retention() {
        let text = volume_details(&volume("created", None)).render(false);
        assert!(text.contains("Snapshot Retention  = 5 days"), "{text}");
    }
}
