//! `fly-replay` response headers.

mod common;

use common::*;
use hangar_types::MachineState;

async fn fleet(h: &Harness) {
    for (id, region) in [("m-a", "ams"), ("m-b", "ams"), ("m-lhr", "lhr")] {
        let b = Backend::start(id).await;
        h.fleet
            .add(route("alpha", &b, region, MachineState::Started), &b);
    }
}

async fn replayed(h: &Harness, from: &str, replay: &str) -> (u16, String, String, String) {
    let response = h
        .get("alpha", "/")
        .header(
            "fly-force-instance-id",
            if from == "*" { "m-a" } else { from },
        )
        .header("x-test-replay-from", from)
        .header("x-test-replay", replay)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let code = response
        .headers()
        .get("hangar-proxy-error")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let body = response.text().await.unwrap();
    (status, machine_of(&body), code, body)
}

#[tokio::test]
async fn replay_to_an_instance_carries_the_source_and_state() {
    let h = Harness::start(test_config()).await;
    fleet(&h).await;
    let (status, machine, _, body) = replayed(&h, "m-a", "instance=m-b;state=s1").await;
    assert_eq!((status, machine.as_str()), (200, "m-b"));
    let source = body
        .lines()
        .find_map(|l| l.strip_prefix("fly-replay-src: "))
        .expect("fly-replay-src on the replayed request");
    assert!(source.starts_with("instance=m-a;region=ams;t="), "{source}");
    assert!(source.ends_with(";state=s1"), "{source}");
}

#[tokio::test]
async fn replay_to_a_region_and_elsewhere() {
    let h = Harness::start(test_config()).await;
    fleet(&h).await;
    let (_, machine, _, _) = replayed(&h, "m-a", "region=lhr").await;
    assert_eq!(machine, "m-lhr");
    for _ in 0..5 {
        let (_, machine, _, _) = replayed(&h, "m-a", "elsewhere=true").await;
        assert_ne!(machine, "m-a");
        assert!(!machine.is_empty());
    }
}

#[tokio::test]
async fn replay_loops_and_bad_headers_are_errors() {
    let h = Harness::start(test_config()).await;
    fleet(&h).await;
    let (status, _, code, _) = replayed(&h, "*", "instance=m-b").await;
    assert_eq!((status, code.as_str()), (502, "PA02"));
    let (status, _, code, _) = replayed(&h, "m-a", "nonsense").await;
    assert_eq!((status, code.as_str()), (502, "PA03"));
    let (status, _, code, _) = replayed(&h, "m-a", "app=other").await;
    assert_eq!((status, code.as_str()), (502, "PA04"));
}

#[tokio::test]
async fn replay_to_another_app() {
    let h = Harness::start(test_config()).await;
    fleet(&h).await;
    let other = Backend::start("m-beta").await;
    h.fleet
        .add(route("beta", &other, "ams", MachineState::Started), &other);
    let (status, machine, _, body) = replayed(&h, "m-a", "app=beta").await;
    assert_eq!((status, machine.as_str()), (200, "m-beta"));
    assert!(
        body.contains("fly-replay-src: instance=m-a;region=ams"),
        "{body}"
    );
}

#[tokio::test]
async fn clients_cannot_forge_the_replay_source() {
    let h = Harness::start(test_config()).await;
    fleet(&h).await;
    let response = h
        .get("alpha", "/")
        .header("fly-replay-src", "instance=forged")
        .send()
        .await
        .unwrap();
    assert!(!response.text().await.unwrap().contains("forged"));
}

#[tokio::test]
async fn replay_in_the_json_body_form() {
    let h = Harness::start(test_config()).await;
    fleet(&h).await;
    let (status, machine, _, body) =
        replayed(&h, "m-a", r#"{"region":"lhr","state":"from-json"}"#).await;
    assert_eq!((status, machine.as_str()), (200, "m-lhr"));
    assert!(body.contains(";state=from-json"), "{body}");
    let (status, _, code, _) = replayed(&h, "m-a", r#"{"elsewhere":"nope"}"#).await;
    assert_eq!((status, code.as_str()), (502, "PA03"));
}
