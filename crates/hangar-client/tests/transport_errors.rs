//! Transport failures against real sockets: a closed port gives the "is
//! `hangar dev` running?" error, a peer that never answers a timeout error.

use std::time::Duration;

use hangar_client::{Client, ClientError};

#[tokio::test]
async fn closed_port_is_reported_as_unreachable_with_advice() {
    // Take a free port from the kernel, then close it so nothing listens.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);

    let client = Client::new(&url, "token").unwrap();
    let err = client.list_apps("personal").await.unwrap_err();
    assert!(matches!(err, ClientError::Unreachable { .. }), "{err:?}");
    // Nothing is chained below the message: `{:#}` prints the same text.
    assert_eq!(anyhow_like(&err), err.to_string());
    assert_eq!(
        err.to_string(),
        format!(
            "cannot reach the Hangar API at {url}: is `hangar dev` running? set HANGAR_API_URL"
        )
    );
}

#[tokio::test]
async fn a_silent_server_is_a_timeout_not_a_hang() {
    // Accepts connections (the kernel completes the handshake) but never answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());

    let client = Client::new(&url, "token")
        .unwrap()
        .with_request_timeout(Some(Duration::from_millis(300)));
    let err = client.get_app("demo").await.unwrap_err();
    assert!(matches!(err, ClientError::Timeout { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("/v1/apps/demo within 300ms"), "{message}");
    drop(listener);
}

/// The error and its source chain, joined as anyhow's `{:#}` does.
fn anyhow_like(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(inner) = source {
        text.push_str(&format!(": {inner}"));
        source = inner.source();
    }
    text
}
