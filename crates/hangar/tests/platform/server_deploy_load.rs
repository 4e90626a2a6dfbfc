//! Deploys under load: while clients send requests through the edge proxy
//! without pause, a config change rolled out with rolling, canary and
//! bluegreen fails none of them (Machines are cordoned and drained before
//! they stop, and get traffic again only once healthy).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hangar_types::DeployState;

use crate::server_deploys_support::*;

/// Concurrent request loops of the load generator.
const LOOPS: usize = 4;

/// Requests sent while a deploy runs; what failed and how.
#[derive(Default)]
struct Load {
    stop: AtomicBool,
    ok: AtomicU64,
    failures: Mutex<Vec<String>>,
}

/// Starts `LOOPS` tasks that GET / through the proxy until told to stop.
fn start_load(
    proxy: std::net::SocketAddr,
    app: &str,
) -> (Arc<Load>, Vec<tokio::task::JoinHandle<()>>) {
    let load = Arc::new(Load::default());
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("http client");
    let tasks = (0..LOOPS)
        .map(|_| {
            let load = load.clone();
            let client = client.clone();
            let host = format!("{app}.localhost");
            tokio::spawn(async move {
                while !load.stop.load(Ordering::Relaxed) {
                    let result = client
                        .get(format!("http://{proxy}/"))
                        .header("host", &host)
                        .send()
                        .await;
                    let failure = match result {
                        Ok(response) if response.status().is_success() => {
                            match response.bytes().await {
                                Ok(_) => None,
                                Err(e) => Some(format!("body: {e}")),
                            }
                        }
                        Ok(response) => Some(format!("status {}", response.status())),
                        Err(e) => Some(format!("error: {}", chain(&e))),
                    };
                    match failure {
                        None => {
                            load.ok.fetch_add(1, Ordering::Relaxed);
                        }
                        Some(f) => load.failures.lock().unwrap().push(f),
                    }
                }
            })
        })
        .collect();
    (load, tasks)
}

/// An error with its sources, so a failure says what went wrong underneath.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploys_under_load_fail_no_request() {
    let app = "loaded";
    let Some((tb, image)) = testbed_with_app("deploys_under_load_fail_no_request", app).await
    else {
        return;
    };
    let Some(proxy) = tb.platform.proxy_addr else {
        println!("SKIPPED deploys_under_load_fail_no_request: the testbed runs no proxy");
        return;
    };
    deploy_ok(
        &tb,
        app,
        &request(&image.reference, &fly_toml(app, "v1", false, "")),
    )
    .await;
    assert_eq!(managed(&tb, app).await.len(), 2);
    hangar_testbed::wait_until_async(
        "the app to answer through the proxy",
        Duration::from_secs(30),
        || async {
            match get_via_proxy(&tb, app).await {
                Ok((200, _)) => Ok(()),
                other => Err(format!("{other:?}")),
            }
        },
    )
    .await;

    let mut report = Vec::new();
    for strategy in ["rolling", "canary", "bluegreen"] {
        let (load, tasks) = start_load(proxy, app);
        let mut req = request(&image.reference, &fly_toml(app, strategy, false, ""));
        req.strategy = Some(strategy.into());
        let (deployment, events) = deploy(&tb, app, &req).await;
        load.stop.store(true, Ordering::Relaxed);
        for task in tasks {
            task.await.expect("load loop");
        }
        assert_eq!(
            deployment.state,
            DeployState::Succeeded,
            "{strategy}: {}",
            messages(&events)
        );
        let ok = load.ok.load(Ordering::Relaxed);
        let failures = load.failures.lock().unwrap().clone();
        println!(
            "{strategy}: {} requests, {ok} succeeded, {} failed {failures:?}",
            ok + failures.len() as u64,
            failures.len()
        );
        report.push((strategy, ok, failures));
    }
    // Its Machines must not outlive the test.
    tb.stop().await;
    for (strategy, ok, failures) in &report {
        assert!(
            failures.is_empty(),
            "{strategy}: {} of {} requests failed during the deploy: {failures:?}",
            failures.len(),
            ok + failures.len() as u64
        );
        assert!(
            *ok >= 20,
            "{strategy}: only {ok} requests succeeded during the deploy"
        );
    }
}
