//! The path-based `fly-replay` cache over real sockets: after a replaying
//! Machine asks for caching, requests under the path go straight to the
//! target (`fly-replay-cache-status: hit`, no `fly-replay-src`) until a
//! target invalidates the entry; clients may skip entries that allow it.

mod common;

use common::*;
use hangar_types::MachineState;

/// `m-origin` replays every request it sees to `m-target`.
async fn fleet() -> Harness {
    let h = Harness::start(test_config()).await;
    for id in ["m-origin", "m-target"] {
        let b = Backend::start(id).await;
        h.fleet
            .add(route("alpha", &b, "ams", MachineState::Started), &b);
    }
    h
}

struct Seen {
    machine: String,
    cache_status: Option<String>,
    replayed: bool,
}

/// A request on `path` through the origin (it replays if it sees the
/// request), with extra headers.
async fn request(h: &Harness, path: &str, extra: &[(&str, &str)]) -> Seen {
    let mut builder = h
        .get("alpha", path)
        .header("x-test-replay-from", "m-origin")
        .header("x-test-replay", "instance=m-target")
        .header("x-test-replay-cache", "/api/*")
        .header("x-test-replay-cache-ttl-secs", "60")
        .header("x-test-replay-cache-allow-bypass", "yes");
    for (name, value) in extra {
        builder = builder.header(*name, *value);
    }
    let response = builder.send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers().get("fly-replay-cache").is_none());
    let body = response.text().await.unwrap();
    let echoed = |name: &str| {
        body.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}: ")))
            .map(str::to_string)
    };
    Seen {
        machine: machine_of(&body),
        cache_status: echoed("fly-replay-cache-status"),
        replayed: echoed("fly-replay-src").is_some(),
    }
}

const VIA_ORIGIN: (&str, &str) = ("fly-force-instance-id", "m-origin");

#[tokio::test]
async fn cached_replay_skips_the_origin_until_invalidated() {
    let h = fleet().await;
    let first = request(&h, "/api/orders", &[VIA_ORIGIN]).await;
    assert_eq!(first.machine, "m-target");
    assert_eq!(first.cache_status.as_deref(), Some("miss"));
    assert!(first.replayed);

    // Same prefix: straight to the target, the origin never sees it.
    let second = request(&h, "/api/users", &[]).await;
    assert_eq!(second.machine, "m-target");
    assert_eq!(second.cache_status.as_deref(), Some("hit"));
    assert!(!second.replayed, "a cache hit carries no fly-replay-src");

    // Outside the prefix the cache does not apply: the origin replays it
    // (and, asking for /api/* again, gets "miss").
    let other = request(&h, "/other", &[VIA_ORIGIN]).await;
    assert_eq!(other.cache_status.as_deref(), Some("miss"));
    assert!(other.replayed);

    // The target invalidates: the next request goes through the origin.
    let invalidating = request(&h, "/api/x", &[("x-test-invalidate", "m-target")]).await;
    assert_eq!(invalidating.cache_status.as_deref(), Some("hit"));
    let after = request(&h, "/api/x", &[VIA_ORIGIN]).await;
    assert_eq!(after.cache_status.as_deref(), Some("miss"));
    assert!(after.replayed);
}

#[tokio::test]
async fn clients_can_skip_an_entry_that_allows_bypass() {
    let h = fleet().await;
    request(&h, "/api/a", &[VIA_ORIGIN]).await;
    let skipped = request(
        &h,
        "/api/a",
        &[VIA_ORIGIN, ("fly-replay-cache-control", "skip")],
    )
    .await;
    assert_eq!(skipped.machine, "m-target");
    assert_eq!(skipped.cache_status.as_deref(), Some("bypass"));
    assert!(skipped.replayed, "went through the origin");
}
