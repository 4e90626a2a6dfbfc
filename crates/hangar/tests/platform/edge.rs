//! The edge proxy inside the platform: Host routing to a Machine's service,
//! and autostart of a stopped Machine by the first request.

use hangar_types::{MachinePort, MachineService, MachineState};

use crate::support::*;

async fn get_via_proxy(
    proxy: std::net::SocketAddr,
    host: &str,
) -> Result<(u16, String, bool), String> {
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .map_err(|e| e.to_string())?;
    let response = client
        .get(format!("http://{proxy}/"))
        .header("host", host)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let has_request_id = response.headers().contains_key("fly-request-id");
    Ok((
        status,
        response.text().await.map_err(|e| e.to_string())?,
        has_request_id,
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proxy_routes_by_host_and_starts_stopped_machines() {
    if hangar_testbed::skip_unless_root("the_proxy_routes_by_host_and_starts_stopped_machines") {
        return;
    }
    let tb = testbed().await;
    let Some(image) = http_image(&tb, "edge") else {
        return;
    };
    let proxy = tb.platform.proxy_addr.expect("the testbed runs the proxy");
    create_app(&tb, "edge").await;
    let mut cfg = config(&image.reference);
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
    let m = create_machine(&tb, "edge", cfg).await;
    wait_http(&url_of(&m)).await;

    let (status, body, request_id) = hangar_testbed::wait_until_async(
        "the proxy to route to the machine",
        std::time::Duration::from_secs(20),
        || async {
            match get_via_proxy(proxy, "edge.localhost").await {
                Ok((200, body, id)) => Ok((200, body, id)),
                other => Err(format!("{other:?}")),
            }
        },
    )
    .await;
    assert_eq!(
        (status, body.as_str()),
        (200, "hello from a hangar machine\n")
    );
    assert!(request_id, "the proxy adds Fly-Request-Id");
    let (status, _, _) = get_via_proxy(proxy, "nope.localhost").await.unwrap();
    assert_eq!(status, 404, "an unknown app is a 404");

    // Stopped: the first request starts it and is answered.
    tb.client.stop_machine("edge", &m.id, None).await.unwrap();
    wait_state(&tb, "edge", &m.id, MachineState::Stopped).await;
    let (status, body, _) = get_via_proxy(proxy, "edge.localhost").await.unwrap();
    assert_eq!(
        (status, body.as_str()),
        (200, "hello from a hangar machine\n")
    );
    assert_eq!(
        tb.client.get_machine("edge", &m.id).await.unwrap().state,
        MachineState::Started
    );
    tb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_tcp_services_get_their_own_listener() {
    if hangar_testbed::skip_unless_root("raw_tcp_services_get_their_own_listener") {
        return;
    }
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let tb = testbed().await;
    let Some(image) = http_image(&tb, "tcpapp") else {
        return;
    };
    create_app(&tb, "tcpapp").await;
    // A port of our own for this test, free right now on 127.0.0.1.
    let public_port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let mut cfg = config(&image.reference);
    cfg.services = vec![MachineService {
        protocol: "tcp".into(),
        internal_port: 8080,
        ports: vec![MachinePort {
            port: Some(i64::from(public_port)),
            handlers: vec![],
            ..Default::default()
        }],
        ..Default::default()
    }];
    let m = create_machine(&tb, "tcpapp", cfg).await;
    wait_http(&url_of(&m)).await;
    let answer = hangar_testbed::wait_until_async(
        "the raw TCP listener to pass bytes through",
        std::time::Duration::from_secs(20),
        || async move {
            let mut conn = tokio::net::TcpStream::connect(("127.0.0.1", public_port))
                .await
                .map_err(|e| e.to_string())?;
            conn.write_all(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
                .await
                .map_err(|e| e.to_string())?;
            let mut out = String::new();
            conn.read_to_string(&mut out)
                .await
                .map_err(|e| e.to_string())?;
            if out.contains("hello from a hangar machine") {
                Ok(out)
            } else {
                Err(out)
            }
        },
    )
    .await;
    assert!(answer.starts_with("HTTP/1."), "{answer}");
    tb.stop().await;
}
