//! A closed port gives the "is `hangar dev` running?" error, not a raw
//! connection error.

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
    assert_eq!(
        err.to_string(),
        format!(
            "cannot reach the Hangar API at {url}: is `hangar dev` running? set HANGAR_API_URL"
        )
    );
}
