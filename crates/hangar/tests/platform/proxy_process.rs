//! `hangar proxy` as its own process, following `hangar dev`'s route stream:
//! it routes to Machines as they appear, autostarts through the agent's
//! endpoint, keeps serving from its snapshot while the control plane is
//! unreachable, and after a restart serves from the snapshot it persisted.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use hangar_client::Client;
use hangar_types::{
    CreateAppRequest, CreateMachineRequest, MachinePort, MachineService, MachineState,
};

use crate::support::{alive_image, config, networks, DevProcess};

/// `hangar proxy` as a child process, killed on drop.
struct StandaloneProxy {
    child: Child,
}

impl Drop for StandaloneProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_dev(data: &Path) -> DevProcess {
    DevProcess::builder(data)
        .args(["--region", "prx"])
        // An ACME directory nobody serves: orders fail, and say so.
        .args(["--acme-directory", "http://127.0.0.1:9/directory"])
        // Its own network, apart from any other `hangar dev` on this host.
        .args(networks::PROXY_PROCESS.args())
        .start()
        .await
}

fn start_proxy(
    control_plane: &str,
    token: &str,
    listen: SocketAddr,
    state: &Path,
) -> StandaloneProxy {
    let child = Command::new(env!("CARGO_BIN_EXE_hangar"))
        .args(["proxy", "--control-plane", control_plane])
        .args(["--listen", &listen.to_string()])
        .arg("--state-dir")
        .arg(state)
        // ACME against a directory nobody serves: its orders fail, and the
        // proxy reports that to the control plane.
        .args(["--acme-directory", "http://127.0.0.1:9/proxy-directory"])
        .env("HANGAR_API_TOKEN", token)
        .env("HANGAR_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn hangar proxy");
    StandaloneProxy { child }
}

/// A loopback port free right now.
fn free_port() -> SocketAddr {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    probe.local_addr().unwrap()
}

async fn get(proxy: SocketAddr, host: &str) -> Result<(u16, String), String> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| e.to_string())?;
    let response = client
        .get(format!("http://{proxy}/"))
        .header("host", host)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    Ok((status, response.text().await.map_err(|e| e.to_string())?))
}

async fn wait_served(proxy: SocketAddr, host: &str, what: &str) -> String {
    hangar_testbed::wait_until_async(what, Duration::from_secs(30), || async {
        match get(proxy, host).await {
            Ok((200, body)) => Ok(body),
            other => Err(format!("{other:?}")),
        }
    })
    .await
}

/// Creates `app` and a Machine serving HTTP on public port 80, with
/// autostart; `skip_launch` leaves it created, not started.
async fn create_web_machine(client: &Client, app: &str, image: &str, skip_launch: bool) -> String {
    client
        .create_app(&CreateAppRequest {
            app_name: Some(app.into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut cfg = config(image);
    cfg.services = vec![MachineService {
        protocol: "tcp".into(),
        internal_port: 8080,
        ports: vec![MachinePort {
            port: Some(80),
            handlers: vec!["http".into()],
            ..Default::default()
        }],
        autostart: Some(true),
        ..Default::default()
    }];
    client
        .create_machine(
            app,
            &CreateMachineRequest {
                config: cfg,
                skip_launch: Some(skip_launch),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .id
}

/// The state of `id` in the snapshot the proxy persisted.
fn persisted_state(state: &Path, id: &str) -> Option<String> {
    let text = std::fs::read_to_string(state.join("routes.json")).ok()?;
    let snapshot: serde_json::Value = serde_json::from_str(&text).ok()?;
    snapshot["machines"]
        .as_array()?
        .iter()
        .find(|m| m["id"] == id)
        .and_then(|m| m["state"].as_str().map(String::from))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standalone_proxy_follows_routes_and_outlives_the_control_plane() {
    if hangar_testbed::skip_unless_root(
        "standalone_proxy_follows_routes_and_outlives_the_control_plane",
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let Some(image) = alive_image(dir.path()) else {
        return;
    };
    let dev = start_dev(&dir.path().join("data")).await;
    let (client, url, token) = (
        dev.client(),
        dev.api_url().to_owned(),
        dev.token().to_owned(),
    );
    create_web_machine(&client, "prxone", &image.reference, false).await;
    let body = wait_served(
        dev.proxy_addr(),
        "prxone.localhost",
        "hangar dev's own proxy to route to the first machine",
    )
    .await;
    assert_eq!(body, "alive\n");

    let listen = free_port();
    let state = dir.path().join("proxy-state");
    let proxy = start_proxy(&url, &token, listen, &state);
    let body = wait_served(
        listen,
        "prxone.localhost",
        "the standalone proxy to route to the first machine",
    )
    .await;
    assert_eq!(body, "alive\n");
    let (status, _) = get(listen, "nope.localhost").await.unwrap();
    assert_eq!(status, 404, "an unknown app is a 404");

    // A Machine created now reaches the proxy through the route stream.
    create_web_machine(&client, "prxtwo", &image.reference, false).await;
    wait_served(
        listen,
        "prxtwo.localhost",
        "the route stream to bring the second machine",
    )
    .await;

    // Autostart from the standalone proxy goes to the agent's endpoint: a
    // Machine that was never started is started by the first request.
    let third = create_web_machine(&client, "prxthree", &image.reference, true).await;
    hangar_testbed::wait_until(
        "the proxy to see the created machine",
        Duration::from_secs(30),
        || (persisted_state(&state, &third).as_deref() == Some("created")).then_some(()),
    )
    .await;
    let (status, body) = get(listen, "prxthree.localhost").await.unwrap();
    assert_eq!(
        (status, body.as_str()),
        (200, "alive\n"),
        "the first request is answered"
    );
    assert_eq!(
        client.get_machine("prxthree", &third).await.unwrap().state,
        MachineState::Started
    );

    // A custom domain routes on the standalone proxy too; its certificate
    // status combines hangar dev's ACME manager and the standalone proxy's
    // report, which names the proxy when it fails too.
    let certificates = format!("{url}/v1/apps/prxone/certificates");
    let added = reqwest::Client::new()
        .post(format!("{certificates}/acme"))
        .bearer_auth(&token)
        .json(&serde_json::json!({ "hostname": "www.prx.test" }))
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), 201);
    let body = wait_served(listen, "www.prx.test", "the custom domain to route").await;
    assert_eq!(body, "alive\n");
    let status = hangar_testbed::wait_until_async(
        "both ACME managers to report their failed orders",
        Duration::from_secs(30),
        || async {
            let cert: serde_json::Value = reqwest::Client::new()
                .get(format!("{certificates}/www.prx.test"))
                .bearer_auth(&token)
                .send()
                .await
                .map_err(|e| e.to_string())?
                .json()
                .await
                .map_err(|e| e.to_string())?;
            let status = cert["status"].as_str().unwrap_or_default().to_string();
            if status.starts_with("failed") && status.contains("(on proxy ") {
                Ok(status)
            } else {
                Err(status)
            }
        },
    )
    .await;
    assert!(status.contains("failed"), "{status}");
    let proxy_id = std::fs::read_to_string(state.join("proxy-id")).expect("the proxy keeps its id");
    assert!(proxy_id.starts_with("prx-"), "{proxy_id:?}");

    // The control plane freezes (SIGSTOP: the Machines keep running; a kill
    // would take them down with their monitor). The proxy keeps serving.
    dev.signal(libc::SIGSTOP);
    let frozen = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap()
        .get(format!("{url}/v1/apps"))
        .bearer_auth(&token)
        .send()
        .await;
    assert!(
        frozen.is_err(),
        "the control plane must be unreachable: {frozen:?}"
    );
    let (status, body) = get(listen, "prxone.localhost").await.unwrap();
    assert_eq!((status, body.as_str()), (200, "alive\n"));

    // Restarted while the control plane is still unreachable, the proxy
    // serves both apps from the snapshot it persisted.
    drop(proxy);
    let _proxy = start_proxy(&url, &token, listen, &state);
    for host in ["prxone.localhost", "prxtwo.localhost", "prxthree.localhost"] {
        let body = wait_served(
            listen,
            host,
            "the restarted proxy to serve from its persisted snapshot",
        )
        .await;
        assert_eq!(body, "alive\n");
    }
    dev.signal(libc::SIGCONT);
}
