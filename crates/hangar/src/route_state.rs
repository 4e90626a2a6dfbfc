//! Route state as proxies hold it: the control plane's [`RouteSnapshot`]
//! turned into the proxy's [`RouteTable`], the rule for accepting a pushed
//! snapshot, and its atomic persistence on disk.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use hangar_proxy::{MachineRoute, RouteTable};
use hangar_server::platform::routes::{MachineRouteRecord, RouteSnapshot};

/// The proxy's view of one route record.
pub fn machine_route(record: &MachineRouteRecord) -> MachineRoute {
    MachineRoute {
        id: record.id.clone(),
        app: record.app.clone(),
        region: record.region.clone(),
        state: record.state,
        address: record.address,
        cordoned: record.cordoned,
        checks_passing: record.checks_passing,
        services: record.services.clone(),
    }
}

/// The proxy's route table of a snapshot (same generation).
pub fn route_table(snapshot: &RouteSnapshot) -> RouteTable {
    let mut table = RouteTable::new(
        u64::try_from(snapshot.generation).unwrap_or(0),
        snapshot.machines.iter().map(machine_route).collect(),
    );
    table.primary_regions = snapshot
        .machines
        .iter()
        .filter_map(|m| m.primary_region.clone().map(|p| (m.app.clone(), p)))
        .collect();
    table.custom_domains = snapshot.custom_domains.clone();
    table
}

/// Whether a pushed snapshot replaces the one held: anything older than
/// what is held is ignored (the same generation again is harmless).
pub fn accepts(held: Option<&RouteSnapshot>, pushed: &RouteSnapshot) -> bool {
    held.is_none_or(|held| pushed.generation >= held.generation)
}

/// Writes the snapshot to `path` atomically: a temporary file beside it,
/// synced, then renamed over it.
pub fn persist(path: &Path, snapshot: &RouteSnapshot) -> anyhow::Result<()> {
    let bytes = serde_json::to_vec(snapshot)?;
    let tmp = path.with_extension("json.tmp");
    let mut file =
        std::fs::File::create(&tmp).with_context(|| format!("cannot write {}", tmp.display()))?;
    file.write_all(&bytes)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot replace {}", path.display()))?;
    if let Some(dir) = path.parent().and_then(|d| std::fs::File::open(d).ok()) {
        let _ = dir.sync_all();
    }
    Ok(())
}

/// The snapshot persisted at `path`: `Ok(None)` when there is none yet.
pub fn load(path: &Path) -> anyhow::Result<Option<RouteSnapshot>> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .with_context(|| format!("{} is not a route snapshot; delete it", path.display())),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(err).with_context(|| format!("cannot read {}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot(generation: i64) -> RouteSnapshot {
        RouteSnapshot {
            generation,
            ..Default::default()
        }
    }

    #[test]
    fn older_snapshots_are_ignored() {
        assert!(accepts(None, &snapshot(3)));
        assert!(accepts(Some(&snapshot(3)), &snapshot(4)));
        assert!(accepts(Some(&snapshot(3)), &snapshot(3)));
        assert!(!accepts(Some(&snapshot(4)), &snapshot(3)));
    }

    #[test]
    fn persisted_snapshots_load_back_and_garbage_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("routes.json");
        assert!(load(&path).unwrap().is_none());
        let mut s = snapshot(7);
        s.custom_domains
            .insert("shop.example.com".into(), "shop".into());
        persist(&path, &s).unwrap();
        assert_eq!(load(&path).unwrap(), Some(s.clone()));
        assert_eq!(
            route_table(&s)
                .custom_domains
                .get("shop.example.com")
                .map(String::as_str),
            Some("shop")
        );
        std::fs::write(&path, b"{nope").unwrap();
        assert!(format!("{:#}", load(&path).unwrap_err()).contains("delete it"));
    }
}
