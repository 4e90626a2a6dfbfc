//! The checked-in OpenAPI document (`openapi/hangar.json`) must match what
//! the code generates. Regenerate with
//! `HANGAR_UPDATE_OPENAPI=1 cargo test -p hangar-server --test openapi`.

use std::path::PathBuf;

#[test]
fn checked_in_openapi_document_is_current() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../openapi/hangar.json");
    let generated = hangar_server::openapi::document();
    if std::env::var_os("HANGAR_UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, &generated).expect("write openapi/hangar.json");
        return;
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == generated,
        "openapi/hangar.json is stale: the API changed. Regenerate it with \
         `HANGAR_UPDATE_OPENAPI=1 cargo test -p hangar-server --test openapi` and commit it."
    );
}

#[test]
fn every_route_of_the_fly_spec_is_documented() {
    let doc: serde_json::Value = serde_json::from_str(&hangar_server::openapi::document()).unwrap();
    let paths = doc["paths"].as_object().unwrap();
    for path in [
        "/v1/apps",
        "/v1/apps/{app_name}",
        "/v1/apps/{app_name}/machines",
        "/v1/apps/{app_name}/machines/{machine_id}",
        "/v1/apps/{app_name}/machines/{machine_id}/wait",
        "/v1/apps/{app_name}/machines/{machine_id}/lease",
        "/v1/apps/{app_name}/volumes/{volume_id}/extend",
    ] {
        assert!(
            paths.contains_key(path),
            "{path} missing from the OpenAPI document"
        );
    }
}
