//! Volumes: local disk with an enforced size, mounted at their path,
//! grown online, snapshotted and restored.

use hangar_types::{CreateVolumeRequest, ExecRequest, MachineMount};

use crate::support::*;

fn sh(cmd: &str) -> ExecRequest {
    ExecRequest {
        command: vec!["/bin/sh".into(), "-c".into(), cmd.into()],
        timeout: Some(120),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn volumes_hold_data_within_their_size() {
    if hangar_testbed::skip_unless_root("volumes_hold_data_within_their_size") {
        return;
    }
    let tb = testbed().await;
    let Some(image) = http_image(&tb, "vols") else {
        return;
    };
    create_app(&tb, "vols").await;
    let bad = tb
        .client
        .create_volume(
            "vols",
            &CreateVolumeRequest {
                name: "data".into(),
                size_gb: Some(501),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(bad.status(), Some(400));
    let vol = tb
        .client
        .create_volume(
            "vols",
            &CreateVolumeRequest {
                name: "data".into(),
                size_gb: Some(1),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(vol.id.starts_with("vol_") && vol.id.len() == 20);
    let mut cfg = config(&image.reference);
    cfg.mounts = vec![MachineMount {
        volume: vol.id.clone(),
        path: "/data".into(),
        ..Default::default()
    }];
    let m = create_machine(&tb, "vols", cfg.clone()).await;
    assert_eq!(
        tb.client
            .get_volume("vols", &vol.id)
            .await
            .unwrap()
            .attached_machine_id
            .as_deref(),
        Some(m.id.as_str())
    );

    // A second machine cannot mount an attached volume.
    let err = tb
        .client
        .create_machine(
            "vols",
            &hangar_types::CreateMachineRequest {
                config: cfg.clone(),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(412), "{err}");

    // The size limit holds: writing past 1 GB fails with ENOSPC.
    let out = tb
        .client
        .exec_machine("vols", &m.id, &sh("echo kept > /data/file; dd if=/dev/zero of=/data/big bs=1M count=1200 2>&1; echo rc=$?"))
        .await
        .unwrap();
    assert!(
        out.stdout.contains("No space left on device"),
        "{}",
        out.stdout
    );
    // Growing it online makes room.
    let grown = tb.client.extend_volume("vols", &vol.id, 2).await.unwrap();
    assert_eq!(grown.volume.size_gb, 2);
    tb.client
        .exec_machine("vols", &m.id, &sh("rm /data/big"))
        .await
        .unwrap();
    if grown.needs_restart {
        // This host cannot grow a mounted filesystem; a restart applies it.
        tb.client.stop_machine("vols", &m.id, None).await.unwrap();
        wait_state(&tb, "vols", &m.id, hangar_types::MachineState::Stopped).await;
        tb.client.start_machine("vols", &m.id).await.unwrap();
    }
    let df = tb
        .client
        .exec_machine("vols", &m.id, &sh("df -k /data | tail -1"))
        .await
        .unwrap();
    let total_kb: u64 = df
        .stdout
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    assert!(
        total_kb > 1_500_000,
        "the filesystem grew to about 2 GB: {}",
        df.stdout
    );
    let shrink = tb
        .client
        .extend_volume("vols", &vol.id, 1)
        .await
        .unwrap_err();
    assert_eq!(shrink.status(), Some(400));

    // Data survives the machine being destroyed; a snapshot restores it.
    tb.client
        .create_volume_snapshot("vols", &vol.id)
        .await
        .unwrap();
    let snaps = tb
        .client
        .list_volume_snapshots("vols", &vol.id)
        .await
        .unwrap();
    assert_eq!(snaps.len(), 1);
    let snap = snaps[0].clone();
    assert!(snap.digest.starts_with("sha256:"));
    let attached = tb.client.destroy_volume("vols", &vol.id).await.unwrap_err();
    assert_eq!(
        attached.status(),
        Some(412),
        "an attached volume cannot be deleted"
    );
    tb.client
        .destroy_machine(
            "vols",
            &m.id,
            hangar_client::DestroyOptions {
                force: true,
                kill: false,
            },
        )
        .await
        .unwrap();
    assert!(tb
        .client
        .get_volume("vols", &vol.id)
        .await
        .unwrap()
        .attached_machine_id
        .is_none());
    let m2 = create_machine(&tb, "vols", cfg).await;
    let out = tb
        .client
        .exec_machine("vols", &m2.id, &sh("cat /data/file"))
        .await
        .unwrap();
    assert_eq!(out.stdout, "kept\n");
    let restored = tb
        .client
        .create_volume(
            "vols",
            &CreateVolumeRequest {
                name: "copy".into(),
                size_gb: Some(2),
                snapshot_id: Some(snap.id.clone()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let mut cfg3 = config(&image.reference);
    cfg3.mounts = vec![MachineMount {
        volume: restored.id.clone(),
        path: "/restored".into(),
        ..Default::default()
    }];
    let m3 = create_machine(&tb, "vols", cfg3).await;
    let out = tb
        .client
        .exec_machine("vols", &m3.id, &sh("cat /restored/file"))
        .await
        .unwrap();
    assert_eq!(out.stdout, "kept\n");
    tb.stop().await;
}
