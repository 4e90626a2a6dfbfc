//! What a deploy keeps from an existing Machine and what it replaces.

mod common;

use hangar_config::machine::{
    plan_mount_update, stamp_release, MachineConfig, MachineMount, MountUpdate,
};

fn mount(name: &str, path: &str) -> MachineMount {
    MachineMount {
        volume: format!("vol_{name}"),
        name: Some(name.into()),
        path: path.into(),
        ..MachineMount::default()
    }
}

#[test]
fn mount_reconciliation() {
    let data = mount("data", "/data");
    assert_eq!(plan_mount_update(None, None), MountUpdate::None);
    assert_eq!(
        plan_mount_update(Some(&data), Some(&mount("data", "/data"))),
        MountUpdate::Keep
    );
    assert_eq!(
        plan_mount_update(Some(&data), Some(&mount("data", "/srv"))),
        MountUpdate::ChangePath
    );
    assert!(matches!(
        plan_mount_update(Some(&data), Some(&mount("other", "/data"))),
        MountUpdate::Replace { .. }
    ));
    assert!(matches!(
        plan_mount_update(Some(&data), None),
        MountUpdate::Replace { .. }
    ));
    assert!(matches!(
        plan_mount_update(None, Some(&data)),
        MountUpdate::Replace { .. }
    ));
}

#[test]
fn update_keeps_unmanaged_fields_and_replaces_managed_ones() {
    let config = common::toml(
        r#"
app = "upd"
[processes]
  app = "bin/app"
[env]
  NEW = "1"
[[restart]]
  policy = "always"
"#,
    )
    .config;
    // An existing config as the API returns it, with fields this crate does not model.
    let existing: MachineConfig = serde_json::from_value(serde_json::json!({
        "image": "registry/app:v1",
        "env": {"OLD": "1"},
        "init": {"cmd": ["old"], "tty": true},
        "guest": {"cpu_kind": "shared", "cpus": 2, "memory_mb": 1024},
        "metadata": {"fly_process_group": "app", "team": "core", "fly_release_version": "3"},
        "services": [{"protocol": "tcp", "internal_port": 1, "autostop": "suspend"}],
        "schedule": "hourly",
        "auto_destroy": true,
        "standbys": ["abc"],
        "restart": {"policy": "no"},
        "processes": [{"cmd": ["x"], "secrets": [{"env_var": "TOKEN"}],
                       "env_from": [{"env_var": "ID", "field_ref": "id"}]}],
        "rootfs": {"persist": "always"},
        "containers": [{"name": "sidecar", "image": "nginx"}],
        "volumes": [{"name": "shared"}],
        "dns": {"nameservers": ["10.0.0.1"], "options": [{"name": "ndots", "value": "2"}]},
        "stop_config": {"timeout": 5000000000u64, "signal": "SIGINT"}
    }))
    .unwrap();
    let updated = config.to_machine_config("app", Some(&existing)).unwrap();
    let json = serde_json::to_value(&updated).unwrap();
    assert_eq!(json["image"], "registry/app:v1");
    assert_eq!(
        json["guest"]["memory_mb"], 1024,
        "guest kept without [[vm]]"
    );
    assert_eq!(json["schedule"], "hourly");
    assert_eq!(json["auto_destroy"], true);
    assert_eq!(json["standbys"][0], "abc");
    assert_eq!(json["processes"][0]["cmd"][0], "x", "unknown fields kept");
    assert_eq!(json["rootfs"]["persist"], "always");
    assert_eq!(json["processes"][0]["secrets"][0]["env_var"], "TOKEN");
    assert_eq!(json["processes"][0]["env_from"][0]["field_ref"], "id");
    assert_eq!(json["containers"][0]["name"], "sidecar");
    assert_eq!(json["volumes"][0]["name"], "shared");
    assert_eq!(json["dns"]["options"][0]["value"], "2");
    assert_eq!(json["metadata"]["team"], "core");
    assert_eq!(json["metadata"]["fly_release_version"], "3");
    assert_eq!(json["init"]["tty"], true);
    assert_eq!(json["init"]["cmd"][0], "bin/app");
    assert_eq!(json["env"]["NEW"], "1");
    assert!(json["env"].get("OLD").is_none(), "env replaced");
    assert!(json.get("services").is_none(), "services replaced");
    assert_eq!(json["restart"]["policy"], "always");
    assert!(
        json.get("stop_config").is_none(),
        "stop_config follows fly.toml"
    );

    let mut stamped = updated.clone();
    stamp_release(&mut stamped, "rel_1", 4);
    assert_eq!(stamped.metadata["fly_release_id"], "rel_1");
    assert_eq!(stamped.metadata["fly_release_version"], "4");
}

#[test]
fn deploy_without_restart_clears_a_hand_set_policy() {
    let config = common::toml("app = \"r\"\n").config;
    let existing = MachineConfig {
        restart: Some(hangar_config::machine::MachineRestart {
            policy: Some(hangar_config::machine::RestartPolicy::Always),
            max_retries: None,
        }),
        ..MachineConfig::default()
    };
    assert_eq!(
        config
            .to_machine_config("", Some(&existing))
            .unwrap()
            .restart,
        None
    );
}

#[test]
fn unknown_group_is_an_error() {
    let config = common::toml("[processes]\nweb = \"w\"\n").config;
    let err = config.to_machine_config("api", None).unwrap_err();
    assert_eq!(
        err.to_string(),
        "process group 'api' is not defined; known groups are ['web']"
    );
}

#[test]
fn region_counts_extension() {
    let config = common::toml(
        "[processes]\napp = \"a\"\nworker = \"w\"\n[regions]\nord = 2\nams = 1\n[regions.worker]\nord = 1\n[regions.app]\nams = 3\n",
    )
    .config;
    let counts = |group: &str| {
        config
            .desired_region_counts(group)
            .into_iter()
            .collect::<Vec<_>>()
    };
    assert_eq!(
        counts(""),
        vec![("ams".to_string(), 3), ("ord".to_string(), 2)]
    );
    assert_eq!(counts("app"), counts(""));
    assert_eq!(counts("worker"), vec![("ord".to_string(), 1)]);
    assert!(common::toml("app = \"x\"")
        .config
        .desired_region_counts("")
        .is_empty());
}

#[test]
fn machine_checks_follow_the_services_of_their_group() {
    let config = common::toml(
        r#"[processes]
web = "w"
worker = "k"
[http_service]
internal_port = 8080
processes = ["web"]
  [[http_service.machine_checks]]
  command = ["check-http"]
[[services]]
internal_port = 9000
processes = ["worker"]
  [[services.machine_checks]]
  command = ["check-worker"]
[[machine_checks]]
command = ["check-all"]
"#,
    )
    .config;
    let commands = |group: &str| {
        config
            .machine_checks_of(group)
            .iter()
            .map(|c| c.command.join(" "))
            .collect::<Vec<_>>()
    };
    assert_eq!(commands("web"), ["check-http", "check-all"]);
    assert_eq!(commands("worker"), ["check-worker", "check-all"]);
}
