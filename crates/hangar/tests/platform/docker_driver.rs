//! A Machine's life through the Machines API on the Docker driver: it runs as
//! a container on a Hangar-managed Docker network, answers HTTP and exec at
//! its private address, stops and starts again, and leaves no container (and
//! no network) behind once destroyed; and `hangar dev --driver docker`
//! recovers its containers after a kill -9.

use std::process::Command;
use std::time::Duration;

use hangar::platform::DriverChoice;
use hangar_client::DestroyOptions;
use hangar_driver_docker::{DockerDriver, DockerDriverConfig};
use hangar_testbed::{skip_unless_root, Testbed};
use hangar_types::{ExecRequest, MachineState};

use crate::support::*;

/// Runs the `docker` CLI and returns its trimmed stdout ("" when it fails).
fn docker(args: &[&str]) -> String {
    Command::new("docker")
        .args(args)
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        .unwrap_or_default()
}

/// Names of every container (running or not) labelled with `machine_id`.
fn containers_of(machine_id: &str) -> String {
    docker(&[
        "ps",
        "-a",
        "--filter",
        &format!("label=dev.hangar.machine-id={machine_id}"),
        "--format",
        "{{.Names}}",
    ])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_machine_runs_as_a_docker_container() {
    let test = "a_machine_runs_as_a_docker_container";
    if skip_unless_root(test) {
        return;
    }
    if let Err(error) = DockerDriver::connect(DockerDriverConfig::default()).await {
        eprintln!("!!! SKIPPED {test}: {error}");
        return;
    }
    if Command::new("docker").arg("version").output().is_err() {
        eprintln!("!!! SKIPPED {test}: the docker CLI is missing (apt-get install docker.io)");
        return;
    }
    let tb = Testbed::start_with_driver(Some(env!("CARGO_BIN_EXE_hangar")), DriverChoice::Docker)
        .await
        .expect("boot testbed on the Docker driver");
    let Some(image) = http_image(&tb, "dockweb") else {
        return;
    };
    create_app(&tb, "dockweb").await;
    let machine = create_machine(&tb, "dockweb", config(&image.reference)).await;
    assert_eq!(machine.state, MachineState::Started);
    let name = format!("hangar-{}", machine.id);
    assert_eq!(
        containers_of(&machine.id),
        name,
        "the machine is a container named after it"
    );
    assert_eq!(
        docker(&["inspect", "-f", "{{index .Config.Labels \"dev.hangar.app\"}} {{.HostConfig.RestartPolicy.Name}} {{.HostConfig.Memory}}", &name]),
        format!("dockweb no {}", 128 * 1024 * 1024),
        "labels, restart policy and memory limit"
    );

    // HTTP at its private addresses, and exec inside it.
    let url = url_of(&machine);
    assert_eq!(wait_http(&url).await, "hello from a hangar machine\n");
    wait_http(&format!("http://[{}]:8080/", machine.private_ip)).await;
    let out = tb
        .client
        .exec_machine(
            "dockweb",
            &machine.id,
            &ExecRequest {
                command: vec!["/bin/sh".into(), "-c".into(), "hostname; exit 4".into()],
                ..Default::default()
            },
        )
        .await
        .expect("exec");
    assert_eq!(out.exit_code, 4);
    assert_eq!(out.stdout, format!("{}\n", machine.id));

    // Stop: the container goes; start: a new one answers at the same address.
    tb.client
        .stop_machine("dockweb", &machine.id, None)
        .await
        .expect("stop");
    wait_state(&tb, "dockweb", &machine.id, MachineState::Stopped).await;
    hangar_testbed::wait_until(
        "the stopped machine's container to be removed",
        Duration::from_secs(20),
        || containers_of(&machine.id).is_empty().then_some(()),
    )
    .await;
    tb.client
        .start_machine("dockweb", &machine.id)
        .await
        .expect("start");
    wait_state(&tb, "dockweb", &machine.id, MachineState::Started).await;
    assert_eq!(wait_http(&url).await, "hello from a hangar machine\n");

    // Destroy leaves no container, and the idle network goes with it.
    let network = docker(&[
        "inspect",
        "-f",
        "{{range $n, $_ := .NetworkSettings.Networks}}{{$n}}{{end}}",
        &name,
    ]);
    assert!(network.starts_with("hangar-172.31."), "network {network:?}");
    let image_tag = docker(&["inspect", "-f", "{{.Config.Image}}", &name]);
    tb.client
        .destroy_machine(
            "dockweb",
            &machine.id,
            DestroyOptions {
                force: true,
                kill: false,
            },
        )
        .await
        .expect("destroy");
    wait_state(&tb, "dockweb", &machine.id, MachineState::Destroyed).await;
    hangar_testbed::wait_until_async(
        "the destroyed machine's container and network to be removed",
        Duration::from_secs(20),
        || async {
            let filter = format!("name=^{network}$");
            let left = (
                containers_of(&machine.id),
                docker(&["network", "ls", "-q", "--filter", &filter]),
            );
            if left.0.is_empty() && left.1.is_empty() {
                Ok(())
            } else {
                Err(left)
            }
        },
    )
    .await;
    // The image stays loaded for the next Machine (pinned by the destroyed
    // one until the agent's next sweep); this test removes it.
    let pin = hangar_driver_docker::pin_tag(&machine.id);
    docker(&["rmi", &image_tag, &pin]);
    tb.stop().await;
}

/// `hangar dev --driver docker` on subnets of its own, apart from any other
/// platform on this host.
async fn start_docker_dev(data: &std::path::Path) -> DevProcess {
    DevProcess::builder(data)
        .args(["--driver", "docker"])
        .args(networks::DOCKER_DEV.args())
        .start()
        .await
}

async fn wait_started(client: &hangar_client::Client, id: &str) -> hangar_types::Machine {
    hangar_testbed::wait_until_async(
        &format!("machine {id} to be started"),
        Duration::from_secs(60),
        || async {
            let m = client
                .get_machine("dockcrash", id)
                .await
                .map_err(|e| e.to_string())?;
            if m.state == MachineState::Started {
                Ok(m)
            } else {
                Err(m.state.to_string())
            }
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hangar_dev_on_docker_recovers_its_containers_after_kill_9() {
    let test = "hangar_dev_on_docker_recovers_its_containers_after_kill_9";
    if skip_unless_root(test) {
        return;
    }
    if let Err(error) = DockerDriver::connect(DockerDriverConfig::default()).await {
        eprintln!("!!! SKIPPED {test}: {error}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let Some(image) = alive_image(dir.path()) else {
        return;
    };
    let dev = start_docker_dev(&data).await;
    let client = dev.client();
    client
        .create_app(&hangar_types::CreateAppRequest {
            app_name: Some("dockcrash".into()),
            ..Default::default()
        })
        .await
        .expect("create app");
    let machine = client
        .create_machine(
            "dockcrash",
            &hangar_types::CreateMachineRequest {
                config: config(&image.reference),
                ..Default::default()
            },
        )
        .await
        .expect("create machine");
    let machine = wait_started(&client, &machine.id).await;
    let url = url_of(&machine);
    assert_eq!(wait_http(&url).await, "alive\n");
    // The container's output reaches the Machine's logs.
    hangar_testbed::wait_until_async(
        "the boot line in the logs",
        Duration::from_secs(20),
        || async {
            let logs = client
                .machine_logs(
                    "dockcrash",
                    &machine.id,
                    &hangar_client::LogOptions {
                        follow: false,
                        tail: Some(100),
                    },
                )
                .await
                .map_err(|e| e.to_string())?;
            let lines: Vec<_> = futures_util::StreamExt::collect(logs).await;
            if lines.into_iter().flatten().any(|l| l.message == "booted") {
                Ok(())
            } else {
                Err("no boot line yet".to_string())
            }
        },
    )
    .await;

    // The agent dies; its container lives on until the agent is back.
    dev.kill();
    assert_eq!(containers_of(&machine.id), format!("hangar-{}", machine.id));
    let dev = start_docker_dev(&data).await;
    let client = dev.client();
    let machine = wait_started(&client, &machine.id).await;
    assert_eq!(wait_http(&url_of(&machine)).await, "alive\n");
    assert_eq!(
        containers_of(&machine.id),
        format!("hangar-{}", machine.id),
        "exactly one container for the machine after recovery"
    );
    let image_tag = docker(&[
        "inspect",
        "-f",
        "{{.Config.Image}}",
        &format!("hangar-{}", machine.id),
    ]);
    client
        .destroy_machine(
            "dockcrash",
            &machine.id,
            DestroyOptions {
                force: true,
                kill: true,
            },
        )
        .await
        .expect("destroy");
    hangar_testbed::wait_until(
        "the destroyed machine's container to be removed",
        Duration::from_secs(20),
        || containers_of(&machine.id).is_empty().then_some(()),
    )
    .await;
    let pin = hangar_driver_docker::pin_tag(&machine.id);
    docker(&["rmi", &image_tag, &pin]);
    drop(dev);
}
