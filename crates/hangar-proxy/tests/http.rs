//! Forwarding headers, force_https, h2c inbound, metrics.

mod common;

use bytes::Bytes;
use common::*;
use hangar_types::MachineState;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// The value of `name` in a backend's echoed request headers.
fn echoed<'a>(body: &'a str, name: &str) -> Vec<&'a str> {
    body.lines()
        .filter_map(|l| l.split_once(": "))
        .filter(|(n, _)| *n == name)
        .map(|(_, v)| v)
        .collect()
}

#[tokio::test]
async fn forwarding_headers_reach_the_machine_and_response_carries_request_id() {
    let h = Harness::start(test_config()).await;
    let a = Backend::start("m-a").await;
    h.fleet
        .add(route("alpha", &a, "ams", MachineState::Started), &a);

    let response = h
        .get("alpha", "/")
        .header("x-forwarded-for", "203.0.113.9")
        .header("connection", "keep-alive, x-secret")
        .header("x-secret", "hop")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let request_id = response.headers()["fly-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(request_id.len(), 26);
    assert!(response.headers()["via"]
        .to_str()
        .unwrap()
        .contains("1.1 hangar"));
    let body = response.text().await.unwrap();
    assert_eq!(echoed(&body, "fly-client-ip"), ["127.0.0.1"]);
    assert_eq!(echoed(&body, "x-forwarded-for"), ["203.0.113.9, 127.0.0.1"]);
    assert_eq!(echoed(&body, "x-forwarded-proto"), ["http"]);
    assert_eq!(echoed(&body, "x-forwarded-ssl"), ["off"]);
    assert_eq!(echoed(&body, "x-forwarded-port"), ["80"]);
    assert_eq!(echoed(&body, "fly-forwarded-port"), ["80"]);
    assert_eq!(echoed(&body, "fly-region"), ["ams"]);
    assert_eq!(echoed(&body, "via"), ["1.1 hangar"]);
    assert!(
        echoed(&body, "x-secret").is_empty(),
        "hop-by-hop header leaked"
    );
    assert!(echoed(&body, "host")[0].starts_with("alpha.localhost"));

    // Every response gets its own id.
    let again = h.get("alpha", "/").send().await.unwrap();
    assert_ne!(again.headers()["fly-request-id"], request_id.as_str());
}

#[tokio::test]
async fn force_https_redirects_with_301() {
    let h = Harness::start(test_config()).await;
    let a = Backend::start("m-a").await;
    let mut r = route("alpha", &a, "ams", MachineState::Started);
    r.services[0].ports[0].force_https = Some(true);
    h.fleet.add(r, &a);

    let response = h.get("alpha", "/path/x?q=1").send().await.unwrap();
    assert_eq!(response.status(), 301);
    assert_eq!(
        response.headers()["location"],
        "https://alpha.localhost/path/x?q=1"
    );
    assert_eq!(a.hits.load(std::sync::atomic::Ordering::SeqCst), 0);
}

#[tokio::test]
async fn h2c_clients_are_served() {
    let h = Harness::start(test_config()).await;
    let a = Backend::start("m-a").await;
    h.fleet
        .add(route("alpha", &a, "ams", MachineState::Started), &a);

    let client: Client<_, Empty<Bytes>> = Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build_http();
    let request = hyper::Request::builder()
        .uri(format!("http://{}/grpc-ish", h.addr))
        .header("host", host("alpha"))
        .body(Empty::new())
        .unwrap();
    let response = client.request(request).await.unwrap();
    assert_eq!(response.version(), hyper::Version::HTTP_2);
    assert_eq!(response.status(), 200);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let body = String::from_utf8(body.to_vec()).unwrap();
    assert_eq!(machine_of(&body), "m-a");
    assert_eq!(echoed(&body, "via"), ["2 hangar"]);
}

#[tokio::test]
async fn metrics_count_requests_by_app_machine_and_status_class() {
    let h = Harness::start(test_config()).await;
    let a = Backend::start("m-a").await;
    h.fleet
        .add(route("alpha", &a, "ams", MachineState::Started), &a);
    for _ in 0..3 {
        h.get("alpha", "/").send().await.unwrap();
    }
    h.get("nosuch", "/").send().await.unwrap();

    let text = h.proxy.metrics_text();
    for line in [
        "hangar_proxy_requests_total{app=\"alpha\",machine=\"m-a\",status=\"2xx\"} 3",
        "hangar_proxy_requests_total{app=\"\",machine=\"\",status=\"4xx\"} 1",
        "hangar_proxy_in_flight{app=\"alpha\",machine=\"m-a\"} 0",
        "hangar_proxy_request_duration_seconds_count{app=\"alpha\"} 3",
        "# TYPE hangar_proxy_request_duration_seconds histogram",
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
}

#[tokio::test]
async fn h2_backend_speaks_h2c_to_the_machine() {
    let h = Harness::start(test_config()).await;
    let a = Backend::start("m-a").await;
    let b = Backend::start("m-b").await;
    let mut grpc = route("grpc", &a, "ams", MachineState::Started);
    grpc.services[0].ports[0].http_options = Some(hangar_types::HttpOptions {
        h2_backend: Some(true),
        ..Default::default()
    });
    h.fleet.add(grpc, &a);
    h.fleet
        .add(route("plain", &b, "ams", MachineState::Started), &b);

    let response = h.get("grpc", "/svc/Method").send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-request-version"], "HTTP/2.0");
    let response = h.get("plain", "/").send().await.unwrap();
    assert_eq!(response.headers()["x-request-version"], "HTTP/1.1");
}

#[tokio::test]
async fn upgraded_connections_are_tunnelled_both_ways() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let h = Harness::start(test_config()).await;
    let a = Backend::start("m-a").await;
    h.fleet
        .add(route("alpha", &a, "ams", MachineState::Started), &a);

    let mut stream = tokio::net::TcpStream::connect(h.addr).await.unwrap();
    stream
        .write_all(
            b"GET /ws HTTP/1.1\r\nHost: alpha.localhost\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n",
        )
        .await
        .unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        let n = tokio::time::timeout(WAIT, stream.read(&mut byte))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(n, 1, "connection closed in the response head");
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap().to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 101"), "{head}");
    assert!(head.contains("upgrade: echo"), "{head}");
    // While the tunnel is open the Machine counts it as in flight.
    assert_eq!(h.proxy.in_flight("m-a"), 1);

    for message in [&b"ping"[..], b"hello over the tunnel"] {
        stream.write_all(message).await.unwrap();
        let mut echoed = vec![0u8; message.len()];
        tokio::time::timeout(WAIT, stream.read_exact(&mut echoed))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(echoed, message);
    }
    drop(stream);
    wait_until("the tunnel's slot is released", || {
        h.proxy.in_flight("m-a") == 0
    })
    .await;
}

#[tokio::test]
async fn metrics_endpoint_serves_prometheus_text() {
    let h = Harness::start(test_config()).await;
    let a = Backend::start("m-a").await;
    h.fleet
        .add(route("alpha", &a, "ams", MachineState::Started), &a);
    h.get("alpha", "/").send().await.unwrap();

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(h.proxy.clone().serve_metrics(listener));
    let response = h
        .client
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = response.text().await.unwrap();
    assert!(text
        .contains("hangar_proxy_requests_total{app=\"alpha\",machine=\"m-a\",status=\"2xx\"} 1"));
    let missing = h
        .client
        .get(format!("http://{addr}/"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    task.abort();
}

#[tokio::test]
async fn slow_request_headers_are_cut_off() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let mut config = test_config();
    config.header_read_timeout = std::time::Duration::from_millis(200);
    let h = Harness::start(config).await;
    let mut stream = tokio::net::TcpStream::connect(h.addr).await.unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: alpha.localhost\r\n")
        .await
        .unwrap();
    // The proxy closes the connection (possibly after a 408) instead of
    // waiting forever for the rest of the head.
    let mut rest = Vec::new();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut rest))
        .await
        .expect("connection still open after the header read timeout")
        .ok();
}

#[tokio::test]
async fn response_options_edit_headers_and_pristine_suppresses_ours() {
    let h = Harness::start(test_config()).await;
    let a = Backend::start("m-a").await;
    let b = Backend::start("m-b").await;
    let mut edited = route("edited", &a, "ams", MachineState::Started);
    let mut headers = std::collections::BTreeMap::new();
    headers.insert("x-machine-id".to_string(), serde_json::Value::Bool(false));
    headers.insert("x-added".to_string(), serde_json::json!("yes"));
    headers.insert("x-multi".to_string(), serde_json::json!(["a", "b"]));
    edited.services[0].ports[0].http_options = Some(hangar_types::HttpOptions {
        response: Some(hangar_types::HttpResponseOptions {
            headers,
            pristine: None,
        }),
        ..Default::default()
    });
    h.fleet.add(edited, &a);
    let mut pristine = route("pristine", &b, "ams", MachineState::Started);
    pristine.services[0].ports[0].http_options = Some(hangar_types::HttpOptions {
        response: Some(hangar_types::HttpResponseOptions {
            pristine: Some(true),
            ..Default::default()
        }),
        ..Default::default()
    });
    h.fleet.add(pristine, &b);

    let response = h.get("edited", "/").send().await.unwrap();
    assert!(response.headers().get("x-machine-id").is_none());
    assert_eq!(response.headers()["x-added"], "yes");
    let multi: Vec<_> = response.headers().get_all("x-multi").iter().collect();
    assert_eq!(multi, ["a", "b"]);
    assert_eq!(response.headers()["server"], "hangar");
    assert!(response.headers().contains_key("fly-request-id"));

    let response = h.get("pristine", "/").send().await.unwrap();
    assert_eq!(response.status(), 200);
    for name in ["server", "via", "fly-request-id"] {
        assert!(
            response.headers().get(name).is_none(),
            "{name} on a pristine response"
        );
    }
}
