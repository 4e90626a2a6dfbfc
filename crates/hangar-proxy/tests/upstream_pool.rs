//! Connections to Machines: reused between requests for
//! `type = "requests"`, one per request for `type = "connections"`.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::*;
use hangar_types::MachineState;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Sends GETs and HEADs one after the other; every one must succeed.
async fn send_in_turn(h: &Harness, count: usize) {
    for n in 0..count {
        let request = if n % 2 == 0 {
            h.get("alpha", &format!("/get/{n}"))
        } else {
            h.client
                .head(format!("http://{}/head/{n}", h.addr))
                .header("host", host("alpha"))
        };
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200, "request {n}");
        response.bytes().await.unwrap();
    }
}

#[tokio::test]
async fn requests_concurrency_reuses_one_connection_to_the_machine() {
    let h = Harness::start(test_config()).await;
    let backend = Backend::start("m-a").await;
    let mut r = route("alpha", &backend, "ams", MachineState::Started);
    r.services[0] = with_limits(r.services[0].clone(), 10, None);
    h.fleet.add(r, &backend);

    send_in_turn(&h, 8).await;
    assert_eq!(backend.hits.load(Ordering::SeqCst), 8);
    assert_eq!(
        backend.accepted.load(Ordering::SeqCst),
        1,
        "sequential requests should share one upstream connection"
    );
}

#[tokio::test]
async fn connections_concurrency_opens_a_connection_per_request() {
    let h = Harness::start(test_config()).await;
    let backend = Backend::start("m-a").await;
    h.fleet.add(
        route("alpha", &backend, "ams", MachineState::Started),
        &backend,
    );

    send_in_turn(&h, 4).await;
    assert_eq!(backend.hits.load(Ordering::SeqCst), 4);
    assert_eq!(backend.accepted.load(Ordering::SeqCst), 4);
}

/// A Machine that closes every connection right after answering on it,
/// without saying so (`Connection: close`), as an app trimming idle
/// connections does: the proxy finds the pooled connection closed when it
/// takes it again and sends the next request on a new one.
#[tokio::test]
async fn a_connection_the_machine_closed_while_idle_is_replaced() {
    let h = Harness::start(test_config()).await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counted = accepted.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buffer = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buffer[..n]),
                    }
                }
                let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                let _ = stream.write_all(answer).await;
            });
        }
    });
    let placeholder = Backend::bind("m-closing").await;
    let mut r = route("alpha", &placeholder, "ams", MachineState::Started);
    r.services[0] = with_limits(http_service(port), 10, None);
    h.fleet.add(r, &placeholder);

    for n in 0..5 {
        let response = h.get("alpha", &format!("/{n}")).send().await.unwrap();
        assert_eq!(response.status(), 200, "request {n}");
        assert_eq!(response.text().await.unwrap(), "ok", "request {n}");
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 5);
}
