//! Connections to Machines: reused between requests for
//! `type = "requests"`, one per request for `type = "connections"`.

mod common;

use std::sync::atomic::Ordering;

use common::*;
use hangar_types::MachineState;

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
