//! Deploys whose fly.toml `[regions]` table adds Machines to a group
//! without services: each new Machine gets a stopped standby in its region
//! (reference §5.8), and its own volume at the mount's `initial_size`; later
//! deploys keep the standbys stopped.

use hangar_types::Machine;

use crate::server_deploys_support::*;

const WORKER_MOUNT: &str = "[[mounts]]\n  source = \"data\"\n  destination = \"/data\"\n  \
                            initial_size = \"2gb\"\n  processes = [\"worker\"]\n";

/// The worker group's Machines, as (active, standbys); asserts that every
/// standby is stopped, watches exactly one active Machine of its region,
/// and that every active Machine has one standby.
fn workers_and_standbys(machines: &[Machine]) -> (Vec<&Machine>, Vec<&Machine>) {
    let (standbys, active): (Vec<&Machine>, Vec<&Machine>) = in_group(machines, "worker")
        .into_iter()
        .partition(|m| !m.config.standbys.is_empty());
    let mut watched: Vec<&str> = Vec::new();
    for standby in &standbys {
        let state = standby.state.to_string();
        assert!(
            state == "created" || state == "stopped",
            "standby {} is {state}, not stopped",
            standby.id
        );
        let [target] = standby.config.standbys.as_slice() else {
            panic!(
                "standby {} watches {:?}",
                standby.id, standby.config.standbys
            )
        };
        let target = active
            .iter()
            .find(|m| &m.id == target)
            .unwrap_or_else(|| panic!("standby {} watches a Machine that is gone", standby.id));
        assert_eq!(
            standby.region, target.region,
            "a standby stays in its region"
        );
        watched.push(&target.id);
    }
    watched.sort();
    let mut ids: Vec<&str> = active.iter().map(|m| m.id.as_str()).collect();
    ids.sort();
    assert_eq!(watched, ids, "one standby per active worker: {machines:#?}");
    (active, standbys)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regions_counts_give_every_new_worker_a_standby_kept_stopped_across_deploys() {
    let app = "regionstandbys";
    let Some((tb, image)) = testbed_with_app(
        "regions_counts_give_every_new_worker_a_standby_kept_stopped_across_deploys",
        app,
    )
    .await
    else {
        return;
    };
    let toml =
        |mark: &str, regions: &str| fly_toml(app, mark, true, &format!("{WORKER_MOUNT}{regions}"));

    // The first deploy: one worker and its standby.
    deploy_ok(&tb, app, &request(&image.reference, &toml("v1", ""))).await;
    let machines = managed(&tb, app).await;
    let (active, standbys) = workers_and_standbys(&machines);
    assert_eq!((active.len(), standbys.len()), (1, 1), "{machines:#?}");

    // [regions] asks for three workers: the two new ones get standbys too.
    let three = "\n[regions.worker]\n  dev = 3\n";
    deploy_ok(&tb, app, &request(&image.reference, &toml("v2", three))).await;
    let machines = managed(&tb, app).await;
    let (active, standbys) = workers_and_standbys(&machines);
    assert_eq!((active.len(), standbys.len()), (3, 3), "{machines:#?}");
    for m in &active {
        assert_eq!(m.state.to_string(), "started", "{}", m.id);
    }

    // Every worker, standby or not, has its own volume of initial_size.
    let volumes = tb.client.list_volumes(app).await.expect("list volumes");
    assert_eq!(volumes.len(), 6, "{volumes:#?}");
    for m in active.iter().chain(&standbys) {
        let mount = m.config.mounts.first().expect("a worker mounts its volume");
        let volume = volumes
            .iter()
            .find(|v| v.id == mount.volume)
            .unwrap_or_else(|| panic!("{} mounts an unknown volume {mount:?}", m.id));
        assert_eq!(volume.attached_machine_id.as_deref(), Some(m.id.as_str()));
        assert_eq!((volume.name.as_str(), volume.size_gb), ("data", 2));
    }

    // A later release: the standbys follow it and stay stopped.
    deploy_ok(&tb, app, &request(&image.reference, &toml("v3", three))).await;
    let machines = managed(&tb, app).await;
    let (active, standbys) = workers_and_standbys(&machines);
    assert_eq!((active.len(), standbys.len()), (3, 3), "{machines:#?}");
    for m in active.iter().chain(&standbys) {
        assert_eq!(m.config.env.get("MARK").map(String::as_str), Some("v3"));
    }
    assert_eq!(tb.client.list_volumes(app).await.unwrap().len(), 6);
    tb.stop().await;
}
