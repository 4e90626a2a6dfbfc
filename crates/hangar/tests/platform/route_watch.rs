//! The route-watch endpoint (`GET /v1/internal/routes`) and the
//! certificates API: snapshots carry increasing generations, a watcher gets
//! nothing older than what it holds, and custom domains route on the proxy.

use std::time::Duration;

use futures_util::StreamExt;
use hangar_types::{MachinePort, MachineService};
use serde_json::{json, Value};

use crate::support::*;

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// Reads newline-delimited JSON lines from a streaming answer.
struct Lines {
    body: std::pin::Pin<Box<dyn futures_util::Stream<Item = reqwest::Result<Vec<u8>>> + Send>>,
    buffer: Vec<u8>,
}

impl Lines {
    async fn next(&mut self) -> Value {
        loop {
            if let Some(end) = self.buffer.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.buffer.drain(..=end).collect();
                return serde_json::from_slice(&line).unwrap();
            }
            let chunk = tokio::time::timeout(Duration::from_secs(30), self.body.next())
                .await
                .expect("a line within 30 s")
                .expect("the stream stays open")
                .unwrap();
            self.buffer.extend_from_slice(&chunk);
        }
    }
}

async fn watch(tb: &hangar_testbed::Testbed, since: i64) -> Lines {
    let response = reqwest::Client::new()
        .get(format!(
            "{}/v1/internal/routes?watch=true&since={since}",
            tb.platform.url
        ))
        .bearer_auth(&tb.platform.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    Lines {
        body: Box::pin(
            response
                .bytes_stream()
                .map(|chunk| chunk.map(|b| b.to_vec())),
        ),
        buffer: Vec::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn route_watch_streams_newer_snapshots_only() {
    if hangar_testbed::skip_unless_root("route_watch_streams_newer_snapshots_only") {
        return;
    }
    let tb = testbed().await;
    let Some(image) = http_image(&tb, "routes") else {
        return;
    };
    let url = format!("{}/v1/internal/routes", tb.platform.url);
    let unauthenticated = http().get(&url).send().await.unwrap();
    assert_eq!(
        unauthenticated.status(),
        401,
        "the platform token is required"
    );
    let first: Value = http()
        .get(&url)
        .bearer_auth(&tb.platform.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let first_generation = first["generation"].as_i64().unwrap();

    // A watcher that already holds a newer generation gets no snapshot.
    let mut ahead = watch(&tb, first_generation + 1_000_000).await;
    assert_eq!(ahead.next().await["type"], "heartbeat");

    let mut lines = watch(&tb, first_generation).await;
    create_app(&tb, "routes").await;
    let mut cfg = config(&image.reference);
    cfg.services = vec![MachineService {
        protocol: "tcp".into(),
        internal_port: 8080,
        ports: vec![MachinePort {
            port: Some(80),
            handlers: vec!["http".into()],
            ..Default::default()
        }],
        ..Default::default()
    }];
    let m = create_machine(&tb, "routes", cfg).await;
    let mut last = first_generation;
    loop {
        let line = lines.next().await;
        if line["type"] != "snapshot" {
            continue;
        }
        let generation = line["generation"].as_i64().unwrap();
        assert!(
            generation > last,
            "generations increase: {generation} after {last}"
        );
        last = generation;
        let started = line["machines"].as_array().unwrap().iter().any(|r| {
            r["id"] == m.id.as_str()
                && r["state"] == "started"
                && r["app"] == "routes"
                && r["host"]["region"] == "dev"
        });
        if started {
            break;
        }
    }

    // Certificates: a custom domain goes into the route state and routes on
    // the proxy.
    let certs = format!("{}/v1/apps/routes/certificates", tb.platform.url);
    let add = |hostname: &'static str, app: &'static str| {
        let url = format!("{}/v1/apps/{app}/certificates/acme", tb.platform.url);
        let token = tb.platform.token.clone();
        async move {
            http()
                .post(url)
                .bearer_auth(token)
                .json(&json!({ "hostname": hostname }))
                .send()
                .await
                .unwrap()
        }
    };
    let created = add("Shop.Example.com", "routes").await;
    assert_eq!(created.status(), 201);
    let cert: Value = created.json().await.unwrap();
    assert_eq!(cert["hostname"], "shop.example.com");
    assert_eq!(cert["status"], "pending");
    assert_eq!(
        add("shop.example.com", "routes").await.status(),
        200,
        "adding again is a no-op"
    );
    assert_eq!(add("not a host", "routes").await.status(), 422);
    create_app(&tb, "other").await;
    assert_eq!(
        add("shop.example.com", "other").await.status(),
        409,
        "one app per hostname"
    );
    let listed: Value = http()
        .get(&certs)
        .bearer_auth(&tb.platform.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    loop {
        let line = lines.next().await;
        if line["type"] == "snapshot" {
            assert!(line["generation"].as_i64().unwrap() > last);
            last = line["generation"].as_i64().unwrap();
            if line["custom_domains"]["shop.example.com"] == "routes" {
                break;
            }
        }
    }
    let proxy = tb.platform.proxy_addr.unwrap();
    let body = hangar_testbed::wait_until_async(
        "the proxy to route the custom domain",
        Duration::from_secs(20),
        || async {
            let response = http()
                .get(format!("http://{proxy}/"))
                .header("host", "shop.example.com")
                .send()
                .await
                .map_err(|e| e.to_string())?;
            match response.status().as_u16() {
                200 => Ok(response.text().await.unwrap()),
                other => Err(other.to_string()),
            }
        },
    )
    .await;
    assert_eq!(body, "hello from a hangar machine\n");

    let deleted = http()
        .delete(format!("{certs}/shop.example.com"))
        .bearer_auth(&tb.platform.token)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 200);
    let gone = http()
        .get(format!("{certs}/shop.example.com"))
        .bearer_auth(&tb.platform.token)
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 404);
    tb.stop().await;
}
