//! Client routing headers: fly-force/prefer-instance-id, fly-force/prefer-region.

mod common;

use common::*;
use hangar_types::MachineState;

async fn three_machines(h: &Harness) {
    for (id, region) in [("m-ams", "ams"), ("m-lhr", "lhr"), ("m-syd", "syd")] {
        let b = Backend::start(id).await;
        h.fleet
            .add(route("alpha", &b, region, MachineState::Started), &b);
    }
}

async fn served_by(h: &Harness, header: &str, value: &str) -> (u16, String, String) {
    let response = h
        .get("alpha", "/")
        .header(header, value)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body = response.text().await.unwrap();
    (status, machine_of(&body), body)
}

#[tokio::test]
async fn force_instance_id_pins_the_machine() {
    let h = Harness::start(test_config()).await;
    three_machines(&h).await;
    for _ in 0..5 {
        let (status, machine, _) = served_by(&h, "fly-force-instance-id", "m-syd").await;
        assert_eq!((status, machine.as_str()), (200, "m-syd"));
    }
    let (status, _, _) = served_by(&h, "fly-force-instance-id", "nosuch").await;
    assert_eq!(status, 503);
}

#[tokio::test]
async fn force_instance_id_starts_a_stopped_machine() {
    let h = Harness::start(test_config()).await;
    three_machines(&h).await;
    let sleeper = Backend::bind("m-sleep").await;
    h.fleet.add(
        route("alpha", &sleeper, "ams", MachineState::Stopped),
        &sleeper,
    );
    let (status, machine, _) = served_by(&h, "fly-force-instance-id", "m-sleep").await;
    assert_eq!((status, machine.as_str()), (200, "m-sleep"));
    assert_eq!(
        h.fleet.calls(),
        vec![ControlCall::Start("m-sleep".to_string())]
    );
}

#[tokio::test]
async fn prefer_instance_id_falls_back_and_says_so() {
    let h = Harness::start(test_config()).await;
    three_machines(&h).await;
    let (_, machine, body) = served_by(&h, "fly-prefer-instance-id", "m-lhr").await;
    assert_eq!(machine, "m-lhr");
    assert!(!body.contains("fly-preferred-instance-unavailable"));

    let (status, machine, body) = served_by(&h, "fly-prefer-instance-id", "gone").await;
    assert_eq!((status, machine.as_str()), (200, "m-ams"));
    assert!(
        body.contains("fly-preferred-instance-unavailable: gone"),
        "{body}"
    );
}

#[tokio::test]
async fn prefer_and_force_region() {
    let h = Harness::start(test_config()).await;
    three_machines(&h).await;
    let (_, machine, _) = served_by(&h, "fly-prefer-region", "syd, lhr").await;
    assert_eq!(machine, "m-syd");
    // Preferring a region with no Machine falls back to the closest.
    let (_, machine, _) = served_by(&h, "fly-prefer-region", "nrt").await;
    assert_eq!(machine, "m-ams");
    let (_, machine, _) = served_by(&h, "fly-force-region", "lhr").await;
    assert_eq!(machine, "m-lhr");
    let (status, _, _) = served_by(&h, "fly-force-region", "nrt").await;
    assert_eq!(status, 503);
}
