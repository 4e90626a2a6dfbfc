//! Routing by Host and port, exclusions, and the proxy's own errors.

mod common;

use common::*;
use hangar_types::MachineState;

#[tokio::test]
async fn routes_by_host_to_the_apps_machine() {
    let h = Harness::start(test_config()).await;
    let a = Backend::start("m-a").await;
    let b = Backend::start("m-b").await;
    h.fleet
        .add(route("alpha", &a, "ams", MachineState::Started), &a);
    h.fleet
        .add(route("beta", &b, "ams", MachineState::Started), &b);

    for (app, machine) in [("alpha", "m-a"), ("beta", "m-b"), ("ALPHA", "m-a")] {
        let response = h.get(app, "/hello?x=1").send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(machine_of(&response.text().await.unwrap()), machine);
    }
}

#[tokio::test]
async fn unknown_app_and_foreign_host_are_404_with_a_code() {
    let h = Harness::start(test_config()).await;
    let a = Backend::start("m-a").await;
    h.fleet
        .add(route("alpha", &a, "ams", MachineState::Started), &a);

    let response = h.get("nosuch", "/").send().await.unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(response.headers()["hangar-proxy-error"], "PN01");
    assert!(response.text().await.unwrap().contains("nosuch.localhost"));

    let response = h
        .client
        .get(format!("http://{}/", h.addr))
        .header("host", "example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(response.headers()["hangar-proxy-error"], "PN01");
}

#[tokio::test]
async fn machine_without_the_port_gets_no_traffic() {
    let h = Harness::start(test_config()).await;
    let a = Backend::start("m-a").await;
    let mut other_port = route("alpha", &a, "ams", MachineState::Started);
    other_port.services[0].ports[0].port = Some(8080);
    h.fleet.add(other_port, &a);

    let response = h.get("alpha", "/").send().await.unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(response.headers()["hangar-proxy-error"], "PN02");
}

#[tokio::test]
async fn cordoned_failing_and_stopped_machines_are_excluded() {
    let h = Harness::start(test_config()).await;
    let good = Backend::start("good").await;
    let cordoned = Backend::start("cordoned").await;
    let failing = Backend::start("failing").await;
    let stopped = Backend::start("stopped").await;
    h.fleet
        .add(route("alpha", &good, "ams", MachineState::Started), &good);
    let mut c = route("alpha", &cordoned, "ams", MachineState::Started);
    c.cordoned = true;
    h.fleet.add(c, &cordoned);
    let mut f = route("alpha", &failing, "ams", MachineState::Started);
    f.checks_passing = false;
    h.fleet.add(f, &failing);
    let mut s = route("alpha", &stopped, "ams", MachineState::Stopped);
    s.services[0].autostart = Some(false);
    h.fleet.add(s, &stopped);

    for _ in 0..12 {
        let response = h.get("alpha", "/").send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(machine_of(&response.text().await.unwrap()), "good");
    }
}

#[tokio::test]
async fn no_routable_machine_is_503_with_a_code() {
    let h = Harness::start(test_config()).await;
    let a = Backend::bind("m-a").await;
    let mut stopped = route("alpha", &a, "ams", MachineState::Stopped);
    stopped.services[0].autostart = Some(false);
    h.fleet.add(stopped, &a);

    let response = h.get("alpha", "/").send().await.unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["hangar-proxy-error"], "PR01");
    assert!(h.fleet.calls().is_empty(), "autostart=false must not start");
}

#[tokio::test]
async fn connect_failure_is_retried_on_another_machine() {
    let h = Harness::start(test_config()).await;
    // A local Machine whose port has nothing listening: preferred (same
    // region) but unreachable, so every request must fall through to `far`.
    let dead = Backend::bind("dead").await;
    let dead_route = route("alpha", &dead, "ams", MachineState::Started);
    dead.halt();
    h.fleet.add(dead_route, &dead);
    let far = Backend::start("far").await;
    h.fleet
        .add(route("alpha", &far, "lhr", MachineState::Started), &far);

    for _ in 0..5 {
        let response = h.get("alpha", "/").send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(machine_of(&response.text().await.unwrap()), "far");
    }

    // With only the dead Machine left, the request fails with PR03.
    h.fleet.update(|t| t.machines.retain(|m| m.id == "dead"));
    let response = h.get("alpha", "/").send().await.unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["hangar-proxy-error"], "PR03");
}

#[tokio::test]
async fn small_bodies_are_buffered_and_large_ones_streamed() {
    let mut config = test_config();
    config.max_request_body_buffer = 1024;
    let h = Harness::start(config).await;
    // The local Machine refuses connections: a buffered body is retried on
    // the remote one.
    let dead = Backend::bind("dead").await;
    let dead_route = route("alpha", &dead, "ams", MachineState::Started);
    dead.halt();
    h.fleet.add(dead_route, &dead);
    let far = Backend::start("far").await;
    h.fleet
        .add(route("alpha", &far, "lhr", MachineState::Started), &far);

    let post = |size: usize| {
        h.client
            .post(format!("http://{}/", h.addr))
            .header("host", host("alpha"))
            .body("x".repeat(size))
            .send()
    };
    let response = post(512).await.unwrap();
    assert_eq!(response.status(), 200);
    let body = response.text().await.unwrap();
    assert_eq!(machine_of(&body), "far");
    assert!(body.contains("received-bytes: 512"), "{body}");

    // Past the buffer the body is streamed, so it cannot be retried.
    let response = post(4096).await.unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["hangar-proxy-error"], "PR03");

    // With only the live Machine, the large body arrives whole.
    h.fleet.update(|t| t.machines.retain(|m| m.id == "far"));
    let response = post(64 * 1024).await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response
        .text()
        .await
        .unwrap()
        .contains("received-bytes: 65536"));
}

#[tokio::test]
async fn request_waits_for_a_machine_to_become_healthy() {
    let mut config = test_config();
    config.healthy_machine_wait = WAIT;
    let h = Harness::start(config).await;
    let a = Backend::start("m-a").await;
    let mut unhealthy = route("alpha", &a, "ams", MachineState::Started);
    unhealthy.checks_passing = false;
    h.fleet.add(unhealthy, &a);

    let request = h.get("alpha", "/");
    let pending = tokio::spawn(async move { request.send().await.unwrap() });
    wait_until("the request waits", || h.proxy.queued_requests() == 1).await;
    h.fleet.update(|t| t.machines[0].checks_passing = true);
    let response = pending.await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(machine_of(&response.text().await.unwrap()), "m-a");
}

#[tokio::test]
async fn serves_from_the_last_snapshot_when_the_control_plane_is_gone() {
    let mut config = test_config();
    config.queue_timeout = std::time::Duration::from_millis(300);
    let h = Harness::start(config).await;
    let a = Backend::start("m-a").await;
    let mut r = route("alpha", &a, "ams", MachineState::Started);
    r.services[0] = with_limits(r.services[0].clone(), 1, Some(1));
    h.fleet.add(r, &a);
    h.fleet.disconnect();

    let response = h.get("alpha", "/").send().await.unwrap();
    assert_eq!(response.status(), 200);
    // Waiting in the queue still ends by capacity or timeout, not by spinning
    // on the closed channel.
    let request = h.get("alpha", "/slow");
    let holder = tokio::spawn(async move { request.send().await.unwrap().status() });
    wait_until("holder in flight", || {
        a.in_flight.load(std::sync::atomic::Ordering::SeqCst) == 1
    })
    .await;
    let response = h.get("alpha", "/").send().await.unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["hangar-proxy-error"], "PR04");
    a.release(1);
    assert_eq!(holder.await.unwrap(), 200);
}

/// A port whose accept queue is full: the kernel drops further SYNs, so a
/// connect to it never completes (a Machine whose host stopped answering).
/// The returned sockets keep the queue full while they live.
fn silent_port() -> (
    std::net::SocketAddr,
    Vec<std::net::TcpStream>,
    socket2::Socket,
) {
    use socket2::{Domain, Socket, Type};
    let listener = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    listener
        .bind(
            &"127.0.0.1:0"
                .parse::<std::net::SocketAddr>()
                .unwrap()
                .into(),
        )
        .unwrap();
    listener.listen(0).unwrap();
    let addr = listener.local_addr().unwrap().as_socket().unwrap();
    let mut fillers = Vec::new();
    // The queue holds backlog + 1; one more completed handshake may wait
    // in the SYN queue. Three fill both.
    for _ in 0..3 {
        let filler = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        filler.set_nonblocking(true).unwrap();
        let _ = filler.connect(&addr.into());
        fillers.push(std::net::TcpStream::from(filler));
    }
    (addr, fillers, listener)
}

#[tokio::test]
async fn a_machine_that_never_answers_the_connect_is_given_up_for_another() {
    let mut config = test_config();
    config.connect_timeout = std::time::Duration::from_millis(300);
    let h = Harness::start(config).await;
    let (silent_addr, _fillers, _listener) = silent_port();
    // Preferred (same region) but silent: without a connect timeout the
    // request would wait for the kernel to give up, minutes later.
    let silent = Backend::bind("silent").await;
    let mut silent_route = route("alpha", &silent, "ams", MachineState::Started);
    silent_route.services = vec![http_service(silent_addr.port())];
    h.fleet.add(silent_route, &silent);
    let far = Backend::start("far").await;
    h.fleet
        .add(route("alpha", &far, "lhr", MachineState::Started), &far);

    let response = h
        .get("alpha", "/")
        .timeout(std::time::Duration::from_secs(20))
        .send()
        .await
        .expect("answered before the client's timeout");
    assert_eq!(response.status(), 200);
    assert_eq!(machine_of(&response.text().await.unwrap()), "far");
    let metrics = h.proxy.metrics_text();
    assert!(
        metrics.contains("hangar_proxy_connect_failures_total{app=\"alpha\",machine=\"silent\"}"),
        "{metrics}"
    );
}
