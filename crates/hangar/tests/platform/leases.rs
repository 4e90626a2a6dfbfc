//! Leases: one holder at a time; mutating calls need the holder's nonce.

use hangar_types::CreateMachineRequest;
use serde_json::Value;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leases_guard_a_machine() {
    if hangar_testbed::skip_unless_root("leases_guard_a_machine") {
        return;
    }
    let tb = testbed().await;
    let Some(image) = http_image(&tb, "leased") else {
        return;
    };
    create_app(&tb, "leased").await;
    let m = tb
        .client
        .create_machine(
            "leased",
            &CreateMachineRequest {
                config: config(&image.reference),
                skip_launch: Some(true),
                lease_ttl: Some(30),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let nonce = m
        .nonce
        .clone()
        .expect("create with lease_ttl returns the nonce");
    let http = reqwest::Client::new();
    let base = format!("{}/v1/apps/leased/machines/{}", tb.platform.url, m.id);
    let token = tb.platform.token.clone();

    // Another client cannot take it or act on the machine.
    let taken = http
        .post(format!("{base}/lease?ttl=10"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(taken.status().as_u16(), 409);
    let start = http
        .post(format!("{base}/start"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(start.status().as_u16(), 409);
    let body: Value = start.json().await.unwrap();
    assert!(body["error"]
        .as_str()
        .unwrap()
        .contains("fly-machine-lease-nonce"));
    let wrong = http
        .post(format!("{base}/start"))
        .bearer_auth(&token)
        .header("fly-machine-lease-nonce", "bad")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status().as_u16(), 409);

    // The holder can: refresh, show, act, release.
    let refreshed = http
        .post(format!("{base}/lease"))
        .bearer_auth(&token)
        .header("fly-machine-lease-nonce", &nonce)
        .json(&serde_json::json!({"ttl": 60, "description": "deploy"}))
        .send()
        .await
        .unwrap();
    assert_eq!(refreshed.status().as_u16(), 200);
    let lease: Value = refreshed.json().await.unwrap();
    assert_eq!(lease["status"], "success");
    assert_eq!(lease["data"]["nonce"], nonce.as_str());
    assert_eq!(
        lease["nonce"],
        nonce.as_str(),
        "flat fields too, as the spec shows"
    );
    let shown: Value = http
        .get(format!("{base}/lease"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(shown["data"]["description"], "deploy");
    let start = http
        .post(format!("{base}/start"))
        .bearer_auth(&token)
        .header("fly-machine-lease-nonce", &nonce)
        .send()
        .await
        .unwrap();
    assert_eq!(start.status().as_u16(), 200);
    let no_nonce = http
        .delete(format!("{base}/lease"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(no_nonce.status().as_u16(), 400);
    let released = http
        .delete(format!("{base}/lease"))
        .bearer_auth(&token)
        .header("fly-machine-lease-nonce", &nonce)
        .send()
        .await
        .unwrap();
    assert_eq!(released.status().as_u16(), 200);
    let gone = http
        .get(format!("{base}/lease"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status().as_u16(), 404);
    // Free again: anyone may act.
    let stop = http
        .post(format!("{base}/stop"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(stop.status().as_u16(), 200);
    tb.stop().await;
}
