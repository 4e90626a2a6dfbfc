//! Autostart of stopped and suspended Machines, and the autostop pass.

mod common;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use hangar_types::{AutostopMode, MachineState};
use tokio::sync::Semaphore;

#[tokio::test]
async fn many_concurrent_requests_to_a_stopped_machine_start_it_once() {
    let gate = Arc::new(Semaphore::new(0));
    let h = Harness::start_with_gate(test_config(), Some(gate.clone())).await;
    let a = Backend::bind("m-a").await;
    h.fleet
        .add(route("alpha", &a, "ams", MachineState::Stopped), &a);

    let mut pending = Vec::new();
    for _ in 0..20 {
        let request = h.get("alpha", "/");
        pending.push(tokio::spawn(async move { request.send().await.unwrap() }));
    }
    wait_until("the start was requested", || !h.fleet.calls().is_empty()).await;
    gate.add_permits(100);
    for p in pending {
        let response = p.await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(machine_of(&response.text().await.unwrap()), "m-a");
    }
    assert_eq!(h.fleet.calls(), vec![ControlCall::Start("m-a".to_string())]);
    assert_eq!(h.fleet.state("m-a"), MachineState::Started);
    let metrics = h.proxy.metrics_text();
    assert!(
        metrics.contains("hangar_proxy_autostarts_total{app=\"alpha\",machine=\"m-a\"} 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn suspended_machine_is_woken_when_the_running_one_is_over_soft_limit() {
    let h = Harness::start(test_config()).await;
    let busy = Backend::start("busy").await;
    let sleeper = Backend::bind("sleeper").await;
    let mut r = route("alpha", &busy, "ams", MachineState::Started);
    r.services[0] = with_limits(r.services[0].clone(), 1, None);
    h.fleet.add(r, &busy);
    let mut s = route("alpha", &sleeper, "ams", MachineState::Suspended);
    s.services[0] = with_limits(s.services[0].clone(), 1, None);
    h.fleet.add(s, &sleeper);

    // Below its soft limit, the running Machine takes the request.
    let holder = {
        let request = h.get("alpha", "/slow");
        tokio::spawn(async move { request.send().await.unwrap().text().await.unwrap() })
    };
    wait_until("busy holds one", || {
        busy.in_flight.load(Ordering::SeqCst) == 1
    })
    .await;
    assert!(h.fleet.calls().is_empty());
    // Now every running Machine is at its soft limit: the suspended one wakes.
    let response = h.get("alpha", "/").send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(machine_of(&response.text().await.unwrap()), "sleeper");
    assert_eq!(
        h.fleet.calls(),
        vec![ControlCall::Start("sleeper".to_string())]
    );
    busy.release(1);
    assert_eq!(machine_of(&holder.await.unwrap()), "busy");
}

#[tokio::test]
async fn autostop_stops_one_idle_machine_per_pass_and_keeps_the_minimum() {
    let h = Harness::start(test_config()).await;
    let mut backends = Vec::new();
    for id in ["m-1", "m-2", "m-3"] {
        let b = Backend::start(id).await;
        let mut r = route("alpha", &b, "ams", MachineState::Started);
        r.services[0] = with_autoscale(r.services[0].clone(), AutostopMode::Stop, true, 1);
        h.fleet.add(r, &b);
        backends.push(b);
    }
    // All three are idle, but a pass stops only one.
    let first_pass = h.proxy.autostop_pass().await;
    assert_eq!(first_pass.len(), 1, "one Machine per region per pass");
    let response = h
        .get("alpha", "/")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let busy = machine_of(&response);
    let second_pass = h.proxy.autostop_pass().await;
    assert_eq!(second_pass.len(), 1);
    assert_ne!(
        second_pass[0], busy,
        "a Machine that served traffic is not idle"
    );
    // One left, and min_machines_running = 1 in the primary region.
    assert!(h.proxy.autostop_pass().await.is_empty());
    let started: Vec<_> = ["m-1", "m-2", "m-3"]
        .into_iter()
        .filter(|id| h.fleet.state(id) == MachineState::Started)
        .collect();
    assert_eq!(started, vec![busy.as_str()]);
    let metrics = h.proxy.metrics_text();
    assert!(
        metrics.contains("hangar_proxy_autostops_total{app=\"alpha\""),
        "{metrics}"
    );
}

#[tokio::test]
async fn autostop_loop_suspends_idle_machines_outside_the_primary_region() {
    let mut config = test_config();
    config.autostop_interval = Duration::from_millis(50);
    let h = Harness::start(config).await;
    let far = Backend::start("far").await;
    let mut r = route("alpha", &far, "lhr", MachineState::Started);
    r.services[0] = with_autoscale(r.services[0].clone(), AutostopMode::Suspend, true, 1);
    h.fleet.add(r, &far);
    let off = Backend::start("off").await;
    let mut r = route("beta", &off, "lhr", MachineState::Started);
    r.services[0] = with_autoscale(r.services[0].clone(), AutostopMode::Off, true, 0);
    h.fleet.add(r, &off);

    let task = h.proxy.clone().spawn_autostop();
    wait_until("far is suspended", || {
        h.fleet.state("far") == MachineState::Suspended
    })
    .await;
    task.abort();
    assert_eq!(
        h.fleet.calls(),
        vec![ControlCall::Suspend("far".to_string())]
    );
    assert_eq!(h.fleet.state("off"), MachineState::Started, "autostop off");

    // The next request wakes it again.
    let response = h.get("alpha", "/").send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(h.fleet.state("far"), MachineState::Started);
}

#[tokio::test]
async fn autostop_per_pass_quota_is_configurable() {
    let mut config = test_config();
    config.autostop_max_per_pass = 5;
    let h = Harness::start(config).await;
    for id in ["m-1", "m-2", "m-3", "m-4"] {
        let b = Backend::start(id).await;
        let mut r = route("alpha", &b, "ams", MachineState::Started);
        r.services[0] = with_autoscale(r.services[0].clone(), AutostopMode::Stop, true, 1);
        h.fleet.add(r, &b);
    }
    // Four idle: excess is 3, all stopped in one pass; one kept as the minimum.
    let mut stopped = h.proxy.autostop_pass().await;
    stopped.sort();
    assert_eq!(stopped, ["m-2", "m-3", "m-4"]);
    assert_eq!(h.fleet.state("m-1"), MachineState::Started);
}

#[tokio::test]
async fn woken_machine_that_is_not_listening_yet_is_retried_until_it_is() {
    let h = Harness::start(test_config()).await;
    h.fleet.serve_on_start.store(false, Ordering::SeqCst);
    let a = Backend::bind("m-a").await;
    let stopped = route("alpha", &a, "ams", MachineState::Stopped);
    a.halt(); // nothing listens on its port until `serve`
    h.fleet.add(stopped, &a);

    let request = h.get("alpha", "/");
    let pending = tokio::spawn(async move { request.send().await.unwrap() });
    // The Machine is started but its app refuses connections for now.
    wait_until("the proxy hit a refused connection", || {
        h.proxy
            .metrics_text()
            .contains("hangar_proxy_connect_failures_total{app=\"alpha\",machine=\"m-a\"}")
    })
    .await;
    a.serve().await;
    let response = pending.await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(machine_of(&response.text().await.unwrap()), "m-a");
    assert_eq!(h.fleet.calls(), vec![ControlCall::Start("m-a".to_string())]);
}
