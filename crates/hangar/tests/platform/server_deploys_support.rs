//! Helpers of the server-side deploy tests: fly.toml texts, deploying and
//! following a deploy to its end, reading the app's managed Machines.

use std::path::Path;
use std::time::Duration;

use futures_util::StreamExt;
use hangar_client::Client;
use hangar_testbed::{BusyboxImage, Testbed};
use hangar_types::{
    CreateAppRequest, CreateDeployRequest, DeployEvent, DeployState, Deployment, GoDuration,
    Machine,
};

use crate::support::networks::DevNetwork;
use crate::support::{create_app, http_image, testbed, DevProcess};

/// A fly.toml with a `web` group behind an HTTP check (two Machines) and,
/// with `worker`, a `worker` group without services; `[env] MARK = mark`.
pub fn fly_toml(app: &str, mark: &str, worker: bool, extra: &str) -> String {
    let processes = if worker {
        "[processes]\n  web = \"/bin/sh -c 'exec httpd -f -p 8080 -h /www'\"\n  worker = \"sleep 100000\"\n"
    } else {
        ""
    };
    let targets = if worker {
        "  processes = [\"web\"]\n"
    } else {
        ""
    };
    format!(
        r#"app = "{app}"
primary_region = "dev"

[env]
  MARK = "{mark}"

{processes}
[http_service]
  internal_port = 8080
  auto_stop_machines = "off"
  auto_start_machines = false
{targets}
  [[http_service.checks]]
    interval = "1s"
    timeout = "1s"
    grace_period = "0s"
    method = "GET"
    path = "/"

[[vm]]
  memory = "256mb"
{extra}
"#
    )
}

/// A deploy request of `image` with `toml`.
pub fn request(image: &str, toml: &str) -> CreateDeployRequest {
    CreateDeployRequest {
        image: image.to_string(),
        fly_toml: toml.to_string(),
        // Generous for a loaded 2-core CI host running Machines of other
        // tests at the same time.
        wait_timeout: Some(GoDuration(Duration::from_secs(60))),
        author: Some("tester".into()),
        ..Default::default()
    }
}

/// Follows a deploy's events to its end; the final deploy and every event.
pub async fn follow(tb: &Testbed, app: &str, id: &str) -> (Deployment, Vec<DeployEvent>) {
    let mut stream = tb
        .client
        .deploy_events(app, id, 0, true)
        .await
        .expect("follow deploy events");
    let mut events = Vec::new();
    let collected = tokio::time::timeout(Duration::from_secs(240), async {
        while let Some(event) = stream.next().await {
            events.push(event.expect("deploy event"));
        }
    })
    .await;
    assert!(
        collected.is_ok(),
        "the deploy did not end; events so far: {events:#?}"
    );
    assert_eq!(
        events.last().map(|e| e.phase.as_str()),
        Some("done"),
        "{events:#?}"
    );
    let deployment = tb.client.get_deploy(app, id).await.expect("get deploy");
    assert!(deployment.state.is_final(), "{deployment:?}");
    (deployment, events)
}

/// Polls a deploy until it ends (for tests whose control plane restarts,
/// where a follow stream would break); the final deploy.
pub async fn wait_final(client: &Client, app: &str, id: &str) -> Deployment {
    hangar_testbed::wait_until_async("the deploy to end", Duration::from_secs(180), || async {
        let d = client
            .get_deploy(app, id)
            .await
            .map_err(|e| e.to_string())?;
        if d.state.is_final() {
            Ok(d)
        } else {
            Err(format!("{:?}", d.state))
        }
    })
    .await
}

/// `hangar dev` in `data` on `network` (its own bridge and subnets, apart
/// from any other on this host), region `dev`; an API client of it.
pub async fn start_dev(data: &Path, network: &DevNetwork) -> (DevProcess, Client) {
    let dev = DevProcess::builder(data)
        .args(["--region", "dev"])
        .args(network.args())
        .start()
        .await;
    let client = dev.client();
    (dev, client)
}

/// The start of the tests that kill `hangar dev` under a deploy:
/// [`start_dev`], the app `app` created, and `first` deployed to success.
pub async fn start_dev_with_app_deployed(
    data: &Path,
    network: &DevNetwork,
    app: &str,
    first: &CreateDeployRequest,
) -> (DevProcess, Client) {
    let (dev, client) = start_dev(data, network).await;
    client
        .create_app(&CreateAppRequest {
            app_name: Some(app.into()),
            ..Default::default()
        })
        .await
        .expect("create the app");
    let first = client
        .create_deploy(app, first)
        .await
        .expect("start the first deploy");
    let done = wait_final(&client, app, &first.id).await;
    assert_eq!(
        done.state,
        DeployState::Succeeded,
        "the first deploy: {:?}",
        done.error
    );
    (dev, client)
}

/// A fresh testbed with the busybox HTTP image and the app `app` created;
/// `None` (after a SKIPPED line) where `test` cannot run.
pub async fn testbed_with_app(test: &str, app: &str) -> Option<(Testbed, BusyboxImage)> {
    if hangar_testbed::skip_unless_root(test) {
        return None;
    }
    let tb = testbed().await;
    let image = http_image(&tb, &format!("deploy-{app}"))?;
    create_app(&tb, app).await;
    Some((tb, image))
}

/// Deploys and asserts that the deploy succeeded (its events on failure).
pub async fn deploy_ok(
    tb: &Testbed,
    app: &str,
    request: &CreateDeployRequest,
) -> (Deployment, Vec<DeployEvent>) {
    let (deployment, events) = deploy(tb, app, request).await;
    assert_eq!(
        deployment.state,
        DeployState::Succeeded,
        "{}",
        messages(&events)
    );
    (deployment, events)
}

/// Starts a deploy and follows it to its end.
pub async fn deploy(
    tb: &Testbed,
    app: &str,
    request: &CreateDeployRequest,
) -> (Deployment, Vec<DeployEvent>) {
    let queued = tb
        .client
        .create_deploy(app, request)
        .await
        .expect("create deploy");
    follow(tb, app, &queued.id).await
}

/// The app's Machines made by deploys (not one-off ones), by id.
pub async fn managed(tb: &Testbed, app: &str) -> Vec<Machine> {
    let mut machines: Vec<Machine> = tb
        .client
        .list_machines(app, &Default::default())
        .await
        .expect("list machines")
        .into_iter()
        .filter(|m| {
            let metadata = &m.config.metadata;
            metadata.get("fly_platform_version").map(String::as_str) == Some("v2") && !is_one_off(m)
        })
        .collect();
    machines.sort_by(|a, b| a.id.cmp(&b.id));
    machines
}

/// Whether a Machine is a one-off: a deploy's release command or machine
/// check (`hangar_deploy_role`), or of a one-off group (release command,
/// console, test Machine). These carry `fly_platform_version` too.
fn is_one_off(machine: &Machine) -> bool {
    let metadata = &machine.config.metadata;
    let one_off_group = metadata.get("fly_process_group").is_some_and(|group| {
        [
            "fly_app_release_command",
            "fly_app_console",
            "fly_app_test_machine_command",
        ]
        .contains(&group.as_str())
    });
    metadata.contains_key("hangar_deploy_role") || one_off_group
}

/// Each Machine's id and instance (version): equal lists mean no Machine
/// was replaced or updated.
pub fn machine_versions(machines: &[Machine]) -> Vec<(String, String)> {
    machines
        .iter()
        .map(|m| (m.id.clone(), m.instance_id.clone()))
        .collect()
}

/// Machines of `group`.
pub fn in_group<'a>(machines: &'a [Machine], group: &str) -> Vec<&'a Machine> {
    machines
        .iter()
        .filter(|m| {
            m.config
                .metadata
                .get("fly_process_group")
                .map(String::as_str)
                == Some(group)
        })
        .collect()
}

/// Messages of the events, one per line, for assertions and failure output.
pub fn messages(events: &[DeployEvent]) -> String {
    events
        .iter()
        .map(|e| format!("[{}] {}", e.phase, e.message))
        .collect::<Vec<_>>()
        .join("\n")
}

/// GET / through the edge proxy with `Host: {app}.localhost`.
pub async fn get_via_proxy(tb: &Testbed, app: &str) -> Result<(u16, String), String> {
    let proxy = tb.platform.proxy_addr.ok_or("the testbed runs no proxy")?;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| e.to_string())?;
    let response = client
        .get(format!("http://{proxy}/"))
        .header("host", format!("{app}.localhost"))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    Ok((status, response.text().await.map_err(|e| e.to_string())?))
}
