//! Least-loaded balancing, soft and hard limits, the capacity queue.

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::*;
use hangar_types::MachineState;

/// Spawns a GET whose status and answering Machine come back through the handle.
fn spawn_get(h: &Harness, app: &str, path: &str) -> tokio::task::JoinHandle<(u16, String, String)> {
    let request = h.get(app, path);
    tokio::spawn(async move {
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let code = response
            .headers()
            .get("hangar-proxy-error")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let body = response.text().await.unwrap();
        (status, machine_of(&body), code)
    })
}

#[tokio::test]
async fn concurrent_slow_requests_spread_to_the_least_loaded_machine() {
    let h = Harness::start(test_config()).await;
    let a = Backend::start("m-a").await;
    let b = Backend::start("m-b").await;
    for backend in [&a, &b] {
        let mut r = route("alpha", backend, "ams", MachineState::Started);
        r.services[0] = with_limits(r.services[0].clone(), 10, None);
        h.fleet.add(r, backend);
    }

    let mut pending = Vec::new();
    for n in 1..=6 {
        pending.push(spawn_get(&h, "alpha", "/slow"));
        // Each new request must land on the Machine with fewer in flight.
        wait_until("the request reached a backend", || {
            a.in_flight.load(Ordering::SeqCst) + b.in_flight.load(Ordering::SeqCst) == n
        })
        .await;
        let (la, lb) = (
            a.in_flight.load(Ordering::SeqCst),
            b.in_flight.load(Ordering::SeqCst),
        );
        assert!(la.abs_diff(lb) <= 1, "unbalanced after {n}: {la} vs {lb}");
    }
    assert_eq!(h.proxy.in_flight("m-a"), 3);
    assert_eq!(h.proxy.in_flight("m-b"), 3);
    a.release(3);
    b.release(3);
    for p in pending {
        assert_eq!(p.await.unwrap().0, 200);
    }
    wait_until("in-flight counts drop to zero", || {
        h.proxy.in_flight("m-a") == 0 && h.proxy.in_flight("m-b") == 0
    })
    .await;
}

#[tokio::test]
async fn local_region_is_preferred_until_it_reaches_its_hard_limit() {
    let h = Harness::start(test_config()).await;
    let near = Backend::start("near").await;
    let far = Backend::start("far").await;
    for (backend, region) in [(&near, "ams"), (&far, "lhr")] {
        let mut r = route("alpha", backend, region, MachineState::Started);
        r.services[0] = with_limits(r.services[0].clone(), 1, Some(2));
        h.fleet.add(r, backend);
    }

    // Two requests fit under the local hard limit, even over its soft limit.
    let first = spawn_get(&h, "alpha", "/slow");
    wait_until("first on near", || {
        near.in_flight.load(Ordering::SeqCst) == 1
    })
    .await;
    let second = spawn_get(&h, "alpha", "/slow");
    wait_until("second on near", || {
        near.in_flight.load(Ordering::SeqCst) == 2
    })
    .await;
    assert_eq!(far.in_flight.load(Ordering::SeqCst), 0);
    // The third leaves the region.
    let third = spawn_get(&h, "alpha", "/slow");
    wait_until("third on far", || far.in_flight.load(Ordering::SeqCst) == 1).await;
    near.release(2);
    far.release(1);
    assert_eq!(first.await.unwrap().1, "near");
    assert_eq!(second.await.unwrap().1, "near");
    assert_eq!(third.await.unwrap().1, "far");
}

#[tokio::test]
async fn request_queued_at_hard_limit_is_served_when_capacity_frees() {
    let h = Harness::start(test_config()).await;
    let a = Backend::start("m-a").await;
    let mut r = route("alpha", &a, "ams", MachineState::Started);
    r.services[0] = with_limits(r.services[0].clone(), 1, Some(1));
    h.fleet.add(r, &a);

    let holder = spawn_get(&h, "alpha", "/slow");
    wait_until("holder in flight", || {
        a.in_flight.load(Ordering::SeqCst) == 1
    })
    .await;
    let queued = spawn_get(&h, "alpha", "/after");
    wait_until("second request queued", || h.proxy.queued_requests() == 1).await;
    assert_eq!(a.hits.load(Ordering::SeqCst), 0);
    a.release(1);
    assert_eq!(holder.await.unwrap().0, 200);
    let (status, machine, _) = queued.await.unwrap();
    assert_eq!((status, machine.as_str()), (200, "m-a"));
    assert_eq!(h.proxy.queued_requests(), 0);
}

#[tokio::test]
async fn queue_wait_times_out_and_a_full_queue_refuses_with_503() {
    let mut config = test_config();
    // Long enough that the waiter is still queued when the next request
    // comes, on a loaded 2-core machine too.
    config.queue_timeout = Duration::from_secs(2);
    config.max_queued_requests = 1;
    let h = Harness::start(config).await;
    let a = Backend::start("m-a").await;
    let mut r = route("alpha", &a, "ams", MachineState::Started);
    r.services[0] = with_limits(r.services[0].clone(), 1, Some(1));
    h.fleet.add(r, &a);

    let holder = spawn_get(&h, "alpha", "/slow");
    wait_until("holder in flight", || {
        a.in_flight.load(Ordering::SeqCst) == 1
    })
    .await;
    let waiter = spawn_get(&h, "alpha", "/");
    wait_until("waiter queued", || h.proxy.queued_requests() == 1).await;
    // The queue holds one: the next request is refused at once.
    let (status, _, code) = spawn_get(&h, "alpha", "/").await.unwrap();
    assert_eq!((status, code.as_str()), (503, "PR05"));
    // The waiter gives up when its wait runs out.
    let (status, _, code) = waiter.await.unwrap();
    assert_eq!((status, code.as_str()), (503, "PR04"));
    a.release(1);
    assert_eq!(holder.await.unwrap().0, 200);
}
