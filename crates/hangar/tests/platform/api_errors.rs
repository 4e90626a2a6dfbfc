//! Bad requests get the right 4xx with a Fly-style `{"error": …}` body that
//! says what is wrong, and change nothing.

use hangar_testbed::Testbed;
use serde_json::{json, Value};

use crate::support::*;

struct Raw {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl Raw {
    fn new(tb: &Testbed) -> Raw {
        Raw {
            base: format!("{}/v1", tb.platform.url),
            token: tb.platform.token.clone(),
            http: reqwest::Client::new(),
        }
    }

    async fn send(&self, method: reqwest::Method, path: &str, body: Option<&str>) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        assert!(
            resp.headers().contains_key("fly-request-id"),
            "every answer carries Fly-Request-Id"
        );
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }
}

fn error_text(body: &Value) -> String {
    body.get("error")
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no error field in {body}"))
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authentication_is_required() {
    let tb = testbed().await;
    let http = reqwest::Client::new();
    let url = format!("{}/v1/apps?org_slug=personal", tb.platform.url);
    let none = http.get(&url).send().await.unwrap();
    assert_eq!(none.status().as_u16(), 401);
    let body: Value = none.json().await.unwrap();
    assert!(error_text(&body).contains("missing API token"));
    let wrong = http.get(&url).bearer_auth("nope").send().await.unwrap();
    assert_eq!(wrong.status().as_u16(), 401);
    let right = http
        .get(&url)
        .bearer_auth(&tb.platform.token)
        .send()
        .await
        .unwrap();
    assert_eq!(right.status().as_u16(), 200);
    tb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_are_refused_clearly() {
    let tb = testbed().await;
    let raw = Raw::new(&tb);
    use reqwest::Method as M;

    let (status, body) = raw.send(M::POST, "/apps", Some("{not json")).await;
    assert_eq!(status, 400);
    assert!(error_text(&body).contains("not valid JSON"), "{body}");

    let (status, body) = raw
        .send(M::POST, "/apps", Some(r#"{"app_name": "Bad_Name"}"#))
        .await;
    assert_eq!(status, 422);
    assert!(error_text(&body).contains("invalid app name"), "{body}");

    let (status, _) = raw
        .send(
            M::POST,
            "/apps",
            Some(r#"{"name": "errs", "org_slug": "personal"}"#),
        )
        .await;
    assert_eq!(status, 201, "flyctl's `name` field is accepted");
    let (status, body) = raw
        .send(M::POST, "/apps", Some(r#"{"app_name": "errs"}"#))
        .await;
    assert_eq!(status, 422);
    assert!(error_text(&body).contains("already taken"));

    let (status, body) = raw.send(M::GET, "/apps/nope/machines", None).await;
    assert_eq!(status, 404);
    assert!(error_text(&body).contains("app \"nope\" not found"));
    let (status, body) = raw
        .send(M::GET, "/apps/errs/machines/0123456789abcd", None)
        .await;
    assert_eq!(status, 404);
    assert!(error_text(&body).contains("machine 0123456789abcd not found"));

    // A config without an image, with a wrong type, and an oversized body.
    let (status, body) = raw
        .send(M::POST, "/apps/errs/machines", Some(r#"{"config": {}}"#))
        .await;
    assert_eq!(status, 400);
    assert!(error_text(&body).contains("config.image is required"));
    let (status, body) = raw
        .send(
            M::POST,
            "/apps/errs/machines",
            Some(r#"{"config": {"image": 5}}"#),
        )
        .await;
    assert_eq!(status, 400);
    assert!(error_text(&body).contains("invalid request body"), "{body}");
    let huge =
        json!({"config": {"image": "x", "env": {"BIG": "y".repeat(2 * 1024 * 1024)}}}).to_string();
    let (status, body) = raw.send(M::POST, "/apps/errs/machines", Some(&huge)).await;
    assert_eq!(status, 413);
    assert!(error_text(&body).contains("larger than the limit"));

    // Image references that cannot be resolved: 4xx, and no machine left behind.
    for reference in [
        "oci:/does/not/exist:latest",
        "UPPER CASE!!",
        "docker-archive:/nope.tar",
    ] {
        let body = json!({"config": {"image": reference}}).to_string();
        let (status, answer) = raw.send(M::POST, "/apps/errs/machines", Some(&body)).await;
        assert!(
            (400..500).contains(&status),
            "{reference}: {status} {answer}"
        );
        assert!(error_text(&answer).contains("image"), "{answer}");
    }
    let (_, list) = raw
        .send(M::GET, "/apps/errs/machines?include_deleted=true", None)
        .await;
    assert_eq!(list, json!([]), "a failed create leaves nothing behind");

    // Unknown endpoints and bad query values.
    let (status, _) = raw.send(M::GET, "/nothing/here", None).await;
    assert_eq!(status, 404);
    let (status, body) = raw
        .send(M::GET, "/apps/errs/machines?include_deleted=maybe", None)
        .await;
    assert_eq!(status, 400);
    assert!(error_text(&body).contains("include_deleted"));
    tb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn illegal_transitions_are_refused_and_change_nothing() {
    if hangar_testbed::skip_unless_root("illegal_transitions_are_refused_and_change_nothing") {
        return;
    }
    let tb = testbed().await;
    let Some(image) = http_image(&tb, "trans") else {
        return;
    };
    create_app(&tb, "trans").await;
    let created = tb
        .client
        .create_machine(
            "trans",
            &hangar_types::CreateMachineRequest {
                config: config(&image.reference),
                skip_launch: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let raw = Raw::new(&tb);
    use reqwest::Method as M;
    let base = format!("/apps/trans/machines/{}", created.id);
    for action in ["suspend", "restart"] {
        let (status, body) = raw.send(M::POST, &format!("{base}/{action}"), None).await;
        assert_eq!(status, 412, "{action}: {body}");
        assert!(error_text(&body).contains("it is created"), "{body}");
    }
    let (status, body) = raw
        .send(
            M::POST,
            &format!("{base}/exec"),
            Some(r#"{"command": ["true"]}"#),
        )
        .await;
    assert_eq!(status, 412);
    assert!(error_text(&body).contains("start the machine first"));
    let (status, body) = raw
        .send(
            M::POST,
            &format!("{base}/signal"),
            Some(r#"{"signal": "SIGNOPE"}"#),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = raw
        .send(
            M::GET,
            &format!("{base}/wait?state=started&timeout=600"),
            None,
        )
        .await;
    assert_eq!(status, 400);
    assert!(error_text(&body).contains("between 1 and 60"));
    let (status, body) = raw
        .send(M::GET, &format!("{base}/wait?state=sleeping"), None)
        .await;
    assert_eq!(status, 400, "{body}");
    let (status, _) = raw.send(M::GET, &base, None).await;
    assert_eq!(status, 200);
    let m = tb.client.get_machine("trans", &created.id).await.unwrap();
    assert_eq!(m.state, hangar_types::MachineState::Created);
    // A machine whose program does not exist fails to launch, says why, and
    // a wait for `started` answers at once instead of at its timeout.
    let broken =
        json!({"config": {"image": image.reference, "init": {"cmd": ["/no/such/program"]}}})
            .to_string();
    let (status, machine) = raw
        .send(M::POST, "/apps/trans/machines", Some(&broken))
        .await;
    assert_eq!(status, 200, "{machine}");
    assert_eq!(machine["state"], "failed");
    let id = machine["id"].as_str().unwrap().to_string();
    let (_, events) = raw
        .send(M::GET, &format!("/apps/trans/machines/{id}/events"), None)
        .await;
    assert_eq!(events[0]["type"], "launch_failed");
    assert!(
        events[0]["request"]["error"]
            .as_str()
            .unwrap()
            .contains("/no/such/program"),
        "{events}"
    );
    // (A timed-out wait would be a 408.)
    let (status, body) = raw
        .send(
            M::GET,
            &format!("/apps/trans/machines/{id}/wait?state=started&timeout=30"),
            None,
        )
        .await;
    assert_eq!(status, 412, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("will not become started"),
        "{body}"
    );
    // A stale current_version is refused.
    let stale = json!({"config": {"image": image.reference}, "current_version": "01OLDVERSION"})
        .to_string();
    let (status, body) = raw.send(M::POST, &base, Some(&stale)).await;
    assert_eq!(status, 412);
    assert!(error_text(&body).contains("changed since you read it"));
    tb.stop().await;
}
