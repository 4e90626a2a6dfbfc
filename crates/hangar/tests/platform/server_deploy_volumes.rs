//! Deploys of an app whose fly.toml mounts a volume: the first deploy
//! creates one volume per Machine, later deploys keep each Machine's volume
//! and its data.

use std::collections::BTreeMap;

use hangar_types::{DeployState, ExecRequest};

use crate::server_deploys_support::*;
use crate::support::*;

const MOUNTS: &str = "[mounts]\n  source = \"data\"\n  destination = \"/data\"\n";

fn sh(cmd: &str) -> ExecRequest {
    ExecRequest {
        command: vec!["/bin/sh".into(), "-c".into(), cmd.into()],
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploys_give_each_machine_a_volume_and_keep_it_across_releases() {
    if hangar_testbed::skip_unless_root(
        "deploys_give_each_machine_a_volume_and_keep_it_across_releases",
    ) {
        return;
    }
    let tb = testbed().await;
    let Some(image) = http_image(&tb, "deploy-volumes") else {
        return;
    };
    let app = "withvolumes";
    create_app(&tb, app).await;

    let (first, events) = deploy(
        &tb,
        app,
        &request(&image.reference, &fly_toml(app, "v1", false, MOUNTS)),
    )
    .await;
    assert_eq!(first.state, DeployState::Succeeded, "{}", messages(&events));
    let machines = managed(&tb, app).await;
    assert_eq!(machines.len(), 2, "web has services: two Machines");

    // Each Machine mounts its own volume named "data"; write a mark on it.
    let mut volume_of = BTreeMap::new();
    for m in &machines {
        let mount = m
            .config
            .mounts
            .first()
            .expect("the Machine mounts a volume");
        assert!(mount.volume.starts_with("vol_"), "{mount:?}");
        assert_eq!(mount.path, "/data");
        volume_of.insert(m.id.clone(), mount.volume.clone());
        let out = tb
            .client
            .exec_machine(app, &m.id, &sh(&format!("echo {} > /data/mark", m.id)))
            .await
            .expect("exec");
        assert_eq!(out.exit_code, 0, "{out:?}");
    }
    let volumes = tb.client.list_volumes(app).await.expect("list volumes");
    assert_eq!(volumes.len(), 2, "one volume per Machine: {volumes:?}");
    for v in &volumes {
        assert_eq!(v.name, "data");
        let holder = v.attached_machine_id.clone().expect("attached");
        assert_eq!(volume_of.get(&holder), Some(&v.id));
    }

    // A new release rolls the Machines; each keeps its volume and the data.
    let (second, events) = deploy(
        &tb,
        app,
        &request(&image.reference, &fly_toml(app, "v2", false, MOUNTS)),
    )
    .await;
    assert_eq!(
        second.state,
        DeployState::Succeeded,
        "{}",
        messages(&events)
    );
    for m in managed(&tb, app).await {
        assert_eq!(m.config.env.get("MARK").map(String::as_str), Some("v2"));
        let mount = m.config.mounts.first().expect("still mounted");
        assert_eq!(volume_of.get(&m.id), Some(&mount.volume), "{}", m.id);
        let out = tb
            .client
            .exec_machine(app, &m.id, &sh("cat /data/mark"))
            .await
            .expect("exec");
        assert_eq!(
            out.stdout.trim(),
            m.id,
            "the data survived the release: {out:?}"
        );
    }
    assert_eq!(tb.client.list_volumes(app).await.unwrap().len(), 2);
    tb.stop().await;
}
