//! `hangar scale count` across two process groups, `scale vm|memory|show`
//! and `autoscale`, through the built binary.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};

use crate::support::*;
use crate::workflow::{app_image, Hangar};

/// Machines per process group.
async fn counts(hangar: &Hangar<'_>, app: &str) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for machine in hangar.machines(app).await {
        let group = machine
            .config
            .metadata
            .get("fly_process_group")
            .cloned()
            .unwrap_or_else(|| "app".into());
        *counts.entry(group).or_default() += 1;
    }
    counts
}

fn map(pairs: &[(&str, usize)]) -> BTreeMap<String, usize> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scale_count_converges_two_process_groups() {
    if hangar_testbed::skip_unless_root("scale_count_converges_two_process_groups") {
        return;
    }
    let tb = testbed().await;
    let Some(image) = app_image(&tb, "wfs-image") else {
        return;
    };
    let hangar = Hangar::new(&tb, "wfscale");
    let image = image.reference.as_str();
    hangar
        .run(&[
            "launch",
            "--image",
            image,
            "--name",
            "wfscale",
            "--no-deploy",
        ])
        .await
        .ok();
    let mut fly_toml = std::fs::read_to_string(hangar.fly_toml()).unwrap();
    fly_toml.push_str(
        "\n[processes]\n  app = \"/bin/sh -c 'echo booted; exec httpd -f -v -p 8080 -h /www'\"\n  \
         worker = \"sleep 100000\"\n",
    );
    std::fs::write(hangar.fly_toml(), fly_toml).unwrap();
    hangar
        .run(&["deploy", "--image", image, "--ha=false"])
        .await
        .ok();
    assert_eq!(
        counts(&hangar, "wfscale").await,
        map(&[("app", 1), ("worker", 1)])
    );

    // `hangar logs` follows every Machine, including ones created later.
    let mut follower = hangar.spawn(&["logs"]);
    let mut lines = BufReader::new(follower.stdout.take().unwrap()).lines();
    let before: BTreeSet<String> = hangar
        .machines("wfscale")
        .await
        .into_iter()
        .map(|m| m.id)
        .collect();
    hangar
        .run(&["scale", "count", "app=3", "worker=2", "-y"])
        .await
        .ok();
    assert_eq!(
        counts(&hangar, "wfscale").await,
        map(&[("app", 3), ("worker", 2)])
    );
    let mut unseen: BTreeSet<String> = hangar
        .machines("wfscale")
        .await
        .into_iter()
        .filter(|m| !before.contains(&m.id))
        .filter(|m| {
            m.config
                .metadata
                .get("fly_process_group")
                .map(String::as_str)
                == Some("app")
        })
        .map(|m| m.id)
        .collect();
    assert_eq!(unseen.len(), 2);
    let waited = tokio::time::timeout(Duration::from_secs(30), async {
        while !unseen.is_empty() {
            let line = lines.next_line().await.unwrap().expect("logs ended early");
            unseen.retain(|id| !line.contains(&format!("app[{id}] dev [info] booted")));
        }
    })
    .await;
    assert!(
        waited.is_ok(),
        "`hangar logs` never showed the new Machines' boot lines"
    );
    drop(follower);
    for machine in hangar.machines("wfscale").await {
        assert_eq!(
            machine.state,
            hangar_types::MachineState::Started,
            "{}",
            machine.id
        );
    }
    let show = hangar.run(&["scale", "show", "--json"]).await.ok();
    let show: serde_json::Value = serde_json::from_str(&show.out).unwrap();
    assert_eq!(show[0]["process"], "app");
    assert_eq!(show[0]["count"], 3);
    assert_eq!(show[1]["regions"]["dev"], 2);

    hangar
        .run(&["scale", "count", "1", "--process-group", "worker", "-y"])
        .await
        .ok();
    hangar.run(&["scale", "count", "app=1", "-y"]).await.ok();
    assert_eq!(
        counts(&hangar, "wfscale").await,
        map(&[("app", 1), ("worker", 1)])
    );
    // Unknown groups are refused and change nothing.
    hangar
        .run(&["scale", "count", "db=2", "-y"])
        .await
        .fails_with("unknown process group \"db\": the app's groups are app, worker");
    assert_eq!(
        counts(&hangar, "wfscale").await,
        map(&[("app", 1), ("worker", 1)])
    );
    // A group of the release that has no Machine left is rebuilt from the
    // release's config and image.
    hangar.run(&["scale", "count", "worker=0", "-y"]).await.ok();
    assert_eq!(counts(&hangar, "wfscale").await, map(&[("app", 1)]));
    hangar
        .run(&["scale", "count", "2", "-g", "worker", "-y"])
        .await
        .ok();
    assert_eq!(
        counts(&hangar, "wfscale").await,
        map(&[("app", 1), ("worker", 2)])
    );
    for machine in hangar.machines("wfscale").await {
        let metadata = &machine.config.metadata;
        if metadata.get("fly_process_group").map(String::as_str) != Some("worker") {
            continue;
        }
        assert_eq!(machine.config.image, image, "{}", machine.id);
        assert_eq!(
            machine
                .config
                .env
                .get("FLY_PROCESS_GROUP")
                .map(String::as_str),
            Some("worker")
        );
        assert_eq!(
            metadata.get("fly_release_version").map(String::as_str),
            Some("1")
        );
        assert_eq!(machine.state, hangar_types::MachineState::Started);
    }
    hangar.run(&["scale", "count", "worker=1", "-y"]).await.ok();

    // scale memory: every Machine and fly.toml's [[vm]].
    hangar.run(&["scale", "memory", "512"]).await.ok();
    for machine in hangar.machines("wfscale").await {
        let guest = machine.config.guest.unwrap_or_default();
        assert_eq!(guest.memory_mb, Some(512), "{}", machine.id);
    }
    let fly_toml = std::fs::read_to_string(hangar.fly_toml()).unwrap();
    assert!(fly_toml.contains("memory = \"512mb\""), "{fly_toml}");

    // autoscale: max Machines exist, min stays running.
    hangar
        .run(&["autoscale", "set", "min=1", "max=2"])
        .await
        .ok();
    assert_eq!(counts(&hangar, "wfscale").await["app"], 2);
    let shown = hangar.run(&["autoscale", "show", "--json"]).await.ok();
    let shown: serde_json::Value = serde_json::from_str(&shown.out).unwrap();
    assert_eq!(shown[0]["min"], 1);
    assert_eq!(shown[0]["max"], 2);
    assert_eq!(shown[0]["enabled"], true);
    hangar.run(&["autoscale", "disable"]).await.ok();
    let shown = hangar.run(&["autoscale", "show", "--json"]).await.ok();
    let shown: serde_json::Value = serde_json::from_str(&shown.out).unwrap();
    assert_eq!(shown[0]["enabled"], false);

    // scale concurrency: the services of every Machine and fly.toml.
    hangar
        .run(&["scale", "concurrency", "--soft", "5", "--hard", "3"])
        .await
        .fails_with("--hard at least --soft");
    hangar
        .run(&["scale", "concurrency", "--soft", "5", "--hard", "10"])
        .await
        .ok();
    for machine in hangar.machines("wfscale").await {
        for service in &machine.config.services {
            let limits = service.concurrency.clone().unwrap_or_default();
            assert_eq!((limits.soft_limit, limits.hard_limit), (Some(5), Some(10)));
        }
    }
    let fly_toml = std::fs::read_to_string(hangar.fly_toml()).unwrap();
    assert!(fly_toml.contains("soft_limit = 5"), "{fly_toml}");
    tb.stop().await;
}

/// `scale count` of groups that mount a volume: every new Machine gets its
/// own volume (a free one of the mount's name in its region first, else a
/// new one of `initial_size`); a volume that cannot be created fails the
/// command with a clear message and leaves nothing behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scale_count_gives_each_new_machine_of_a_volume_group_its_own_volume() {
    if hangar_testbed::skip_unless_root(
        "scale_count_gives_each_new_machine_of_a_volume_group_its_own_volume",
    ) {
        return;
    }
    let tb = testbed().await;
    let Some(image) = app_image(&tb, "wfs-volumes-image") else {
        return;
    };
    let app = "wfvolumes";
    let hangar = Hangar::new(&tb, app);
    let image = image.reference.as_str();
    hangar
        .run(&["launch", "--image", image, "--name", app, "--no-deploy"])
        .await
        .ok();
    // worker and db mount volumes; [regions] keeps them at no Machine.
    let mut fly_toml = std::fs::read_to_string(hangar.fly_toml()).unwrap();
    fly_toml.push_str(
        "\n[processes]\n  app = \"/bin/sh -c 'exec httpd -f -p 8080 -h /www'\"\n  \
         worker = \"sleep 100000\"\n  db = \"sleep 100000\"\n\n\
         [[mounts]]\n  source = \"data\"\n  destination = \"/data\"\n  \
         initial_size = \"2gb\"\n  processes = [\"worker\"]\n\n\
         [[mounts]]\n  source = \"huge\"\n  destination = \"/huge\"\n  \
         initial_size = \"600gb\"\n  processes = [\"db\"]\n\n\
         [regions.worker]\n  dev = 0\n\n[regions.db]\n  dev = 0\n",
    );
    std::fs::write(hangar.fly_toml(), fly_toml).unwrap();
    hangar
        .run(&["deploy", "--image", image, "--ha=false"])
        .await
        .ok();
    assert_eq!(counts(&hangar, app).await, map(&[("app", 1)]));
    assert!(tb.client.list_volumes(app).await.unwrap().is_empty());

    // 0 → 2: two Machines, each with its own new volume.
    hangar
        .run(&["scale", "count", "2", "--process-group", "worker", "-y"])
        .await
        .ok();
    assert_eq!(
        counts(&hangar, app).await,
        map(&[("app", 1), ("worker", 2)])
    );
    let first_two = assert_each_worker_has_its_own_volume(&hangar, app, 2).await;

    // Down to 1 (its volume stays, free), then up to 3: the free volume is
    // reused before a new one is created.
    hangar.run(&["scale", "count", "worker=1", "-y"]).await.ok();
    assert_eq!(tb.client.list_volumes(app).await.unwrap().len(), 2);
    hangar.run(&["scale", "count", "worker=3", "-y"]).await.ok();
    assert_eq!(
        counts(&hangar, app).await,
        map(&[("app", 1), ("worker", 3)])
    );
    let all = assert_each_worker_has_its_own_volume(&hangar, app, 3).await;
    assert!(
        first_two.iter().all(|v| all.contains(v)),
        "the freed volume was reused: {first_two:?} → {all:?}"
    );

    // db's volume is larger than a volume may be: refused, nothing left.
    hangar
        .run(&["scale", "count", "db=1", "-y"])
        .await
        .fails_with("cannot create a Machine with a volume \"huge\" for group 'db' in region 'dev'")
        .fails_with("size_gb must be between 1 and 500 (got 600)");
    assert_eq!(
        counts(&hangar, app).await,
        map(&[("app", 1), ("worker", 3)])
    );
    let volumes = tb.client.list_volumes(app).await.unwrap();
    assert!(volumes.iter().all(|v| v.name == "data"), "{volumes:#?}");

    // A Machine the agent refuses leaves no volume created for it behind.
    let mut config = hangar.machines(app).await[0].config.clone();
    config.mounts = vec![hangar_types::MachineMount {
        path: "/scratch".into(),
        name: Some("scratch".into()),
        ..Default::default()
    }];
    let refused = tb
        .client
        .create_machine(
            app,
            &hangar_types::CreateMachineRequest {
                config,
                min_secrets_version: Some(999),
                ..Default::default()
            },
        )
        .await;
    assert!(refused.is_err(), "{refused:?}");
    let volumes = tb.client.list_volumes(app).await.unwrap();
    assert!(volumes.iter().all(|v| v.name == "data"), "{volumes:#?}");
    assert_eq!(volumes.len(), 3);
    tb.stop().await;
}

/// Asserts that the app's `count` workers are started and each mounts its
/// own `data` volume of 2 GB (attached to it); the volumes' ids.
async fn assert_each_worker_has_its_own_volume(
    hangar: &Hangar<'_>,
    app: &str,
    count: usize,
) -> BTreeSet<String> {
    let volumes = hangar.tb.client.list_volumes(app).await.unwrap();
    let mut mounted = BTreeSet::new();
    for machine in hangar.machines(app).await {
        if machine
            .config
            .metadata
            .get("fly_process_group")
            .map(String::as_str)
            != Some("worker")
        {
            continue;
        }
        assert_eq!(
            machine.state,
            hangar_types::MachineState::Started,
            "{}",
            machine.id
        );
        let mount = machine
            .config
            .mounts
            .first()
            .expect("a worker mounts a volume");
        assert_eq!(mount.path, "/data");
        let volume = volumes
            .iter()
            .find(|v| v.id == mount.volume)
            .unwrap_or_else(|| panic!("{} mounts an unknown volume: {mount:?}", machine.id));
        assert_eq!(
            volume.attached_machine_id.as_deref(),
            Some(machine.id.as_str())
        );
        assert_eq!((volume.name.as_str(), volume.size_gb), ("data", 2));
        mounted.insert(volume.id.clone());
    }
    assert_eq!(mounted.len(), count, "one volume per worker: {volumes:#?}");
    mounted
}
