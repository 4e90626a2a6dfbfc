//! `fly-replay` `timeout` and `fallback` over real sockets: a replay that
//! cannot reach its target in time, or finds none, goes back to the
//! replaying Machine with `fly-replay-failed`.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use hangar_types::MachineState;
use tokio::sync::Semaphore;

/// `m-a` serves app alpha; `m-asleep` is stopped and its start hangs (the
/// start gate is never opened), so a replay to it waits.
async fn fleet() -> Harness {
    let h = Harness::start_with_gate(test_config(), Some(Arc::new(Semaphore::new(0)))).await;
    let awake = Backend::start("m-a").await;
    h.fleet
        .add(route("alpha", &awake, "ams", MachineState::Started), &awake);
    let asleep = Backend::bind("m-asleep").await;
    h.fleet.add(
        route("alpha", &asleep, "ams", MachineState::Stopped),
        &asleep,
    );
    h
}

struct Answer {
    status: u16,
    code: String,
    body: String,
    took: Duration,
}

async fn replayed(h: &Harness, replay: &str, extra: Option<(&str, &str)>) -> Answer {
    let began = Instant::now();
    let mut request = h
        .get("alpha", "/")
        .header("fly-force-instance-id", "m-a")
        .header("x-test-replay-from", "m-a")
        .header("x-test-replay", replay);
    if let Some((name, value)) = extra {
        request = request.header(name, value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let code = response
        .headers()
        .get("hangar-proxy-error")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let body = response.text().await.unwrap();
    Answer {
        status,
        code,
        body,
        took: began.elapsed(),
    }
}

fn header<'b>(body: &'b str, name: &str) -> Option<&'b str> {
    body.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}: ")))
}

#[tokio::test]
async fn no_candidate_falls_back_to_the_replaying_machine() {
    let h = fleet().await;
    let answer = replayed(&h, "instance=m-gone;fallback=force_self", None).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(machine_of(&answer.body), "m-a");
    let failed = header(&answer.body, "fly-replay-failed").expect("fly-replay-failed");
    assert!(
        failed.starts_with(
            "instance=m-gone;app=;region=;replay_source=m-a;reason=no_candidate;elapsed_ms="
        ),
        "{failed}"
    );
    assert!(header(&answer.body, "fly-replay-src").is_none());
}

#[tokio::test]
async fn timeout_falls_back_with_the_reason() {
    let h = fleet().await;
    let answer = replayed(
        &h,
        "instance=m-asleep;timeout=300ms;fallback=prefer_self",
        None,
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(machine_of(&answer.body), "m-a");
    let failed = header(&answer.body, "fly-replay-failed").expect("fly-replay-failed");
    assert!(
        failed.contains(";replay_source=m-a;reason=timeout;"),
        "{failed}"
    );
    let elapsed: u64 = failed
        .rsplit_once("elapsed_ms=")
        .unwrap()
        .1
        .parse()
        .unwrap();
    assert!(elapsed >= 300, "waited only {elapsed} ms");
    assert!(
        h.fleet
            .calls()
            .contains(&ControlCall::Start("m-asleep".into())),
        "the replay tried to wake its target"
    );
}

#[tokio::test]
async fn timeout_without_fallback_is_an_error_in_time() {
    let h = fleet().await;
    let answer = replayed(&h, r#"{"instance":"m-asleep","timeout":"300ms"}"#, None).await;
    assert_eq!((answer.status, answer.code.as_str()), (503, "PA07"));
    // The autostart wait of the test config is 5 s: the replay's own
    // timeout ended it.
    assert!(
        answer.took < Duration::from_secs(3),
        "took {:?}",
        answer.took
    );
    assert!(
        answer.took >= Duration::from_millis(300),
        "took {:?}",
        answer.took
    );
}

#[tokio::test]
async fn a_fallback_request_may_not_replay_again() {
    let h = fleet().await;
    let answer = replayed(
        &h,
        "instance=m-gone;fallback=force_self",
        Some(("x-test-replay-after-fallback", "yes")),
    )
    .await;
    assert_eq!((answer.status, answer.code.as_str()), (502, "PA08"));
}
