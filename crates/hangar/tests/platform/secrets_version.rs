//! `min_secrets_version` on Machine create and update: a Machine that needs
//! newer secrets than the app has is refused with a clear error.

use std::collections::BTreeMap;

use hangar_types::{CreateMachineRequest, MachineState, UpdateMachineRequest};

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn machines_needing_newer_secrets_are_refused() {
    if hangar_testbed::skip_unless_root("machines_needing_newer_secrets_are_refused") {
        return;
    }
    let tb = testbed().await;
    let Some(image) = http_image(&tb, "secrets-version") else {
        return;
    };
    let app = "secrets-version";
    create_app(&tb, app).await;
    let secrets = BTreeMap::from([("TOKEN".to_string(), "one".to_string())]);
    let changed = tb.client.set_secrets(app, secrets, true).await.unwrap();
    assert_eq!(changed.secrets_version, 1);

    let request = |min: u64| CreateMachineRequest {
        config: config(&image.reference),
        min_secrets_version: Some(min),
        ..Default::default()
    };
    let refused = tb
        .client
        .create_machine(app, &request(2))
        .await
        .expect_err("secrets at version 1, the Machine needs 2");
    assert_eq!(refused.status(), Some(412), "{refused}");
    let message = refused.to_string();
    assert!(
        message.contains("min_secrets_version") && message.contains("version 1"),
        "{message}"
    );
    assert!(tb
        .client
        .list_machines(app, &Default::default())
        .await
        .unwrap()
        .is_empty());

    let machine = tb.client.create_machine(app, &request(1)).await.unwrap();
    wait_state(&tb, app, &machine.id, MachineState::Started).await;
    let refused = tb
        .client
        .update_machine(
            app,
            &machine.id,
            &UpdateMachineRequest {
                config: config(&image.reference),
                min_secrets_version: Some(3),
                ..Default::default()
            },
        )
        .await
        .expect_err("an update needing secrets v3");
    assert_eq!(refused.status(), Some(412), "{refused}");
    let still = wait_state(&tb, app, &machine.id, MachineState::Started).await;
    assert_eq!(still.instance_id, machine.instance_id, "nothing changed");
    tb.stop().await;
}
