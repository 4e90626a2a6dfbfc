//! Per-port connection timeouts over real sockets: `http_options.idle_timeout`
//! closes a keep-alive connection that sits idle.

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use hangar_types::{HttpOptions, MachineState};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Adds app `app` with `idle_timeout` seconds on its http port.
async fn app_with_idle_timeout(h: &Harness, app: &str, idle_timeout: i64) {
    let backend = Backend::start(&format!("m-{app}")).await;
    let mut machine = route(app, &backend, "ams", MachineState::Started);
    machine.services[0].ports[0].http_options = Some(HttpOptions {
        idle_timeout: Some(idle_timeout),
        ..Default::default()
    });
    h.fleet.add(machine, &backend);
}

/// Sends one keep-alive request for `app` and returns how long after its
/// response the proxy closed the connection (at most `bound`).
async fn closed_after_response(h: &Harness, app: &str, bound: Duration) -> Option<Duration> {
    let stream = TcpStream::connect(h.addr).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    let mut connection = tokio::spawn(connection);
    let request = hyper::Request::get("/")
        .header("host", host(app))
        .body(Empty::<Bytes>::new())
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), 200);
    response.into_body().collect().await.unwrap();
    let answered = Instant::now();
    match tokio::time::timeout(bound, &mut connection).await {
        Ok(_) => Some(answered.elapsed()),
        Err(_) => {
            connection.abort();
            None
        }
    }
}

#[tokio::test]
async fn idle_keep_alive_connection_is_closed_after_the_port_idle_timeout() {
    let h = Harness::start(test_config()).await;
    app_with_idle_timeout(&h, "brief", 1).await;
    let closed = closed_after_response(&h, "brief", Duration::from_secs(10))
        .await
        .expect("the proxy closes the idle connection within the bound");
    assert!(
        closed >= Duration::from_millis(900),
        "closed after {closed:?}, before the 1 s idle timeout"
    );
}

#[tokio::test]
async fn proxy_default_idle_timeout_applies_without_http_options() {
    let mut config = test_config();
    config.idle_timeout = Duration::from_millis(300);
    let h = Harness::start(config).await;
    let backend = Backend::start("m-plain").await;
    h.fleet.add(
        route("plain", &backend, "ams", MachineState::Started),
        &backend,
    );
    let closed = closed_after_response(&h, "plain", Duration::from_secs(10))
        .await
        .expect("the proxy closes the idle connection within the bound");
    assert!(
        closed >= Duration::from_millis(250),
        "closed after {closed:?}"
    );
}
