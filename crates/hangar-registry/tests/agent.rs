//! An agent pulls an image from the platform's built-in registry (mounted
//! under `/v2/` on the API address) with the platform token and runs it;
//! the registry takes pushes only for apps the control plane has.
//!
//! The Machine init is the `hangar` binary beside the test executable
//! (`cargo build -p hangar` first, or set HANGAR_INIT_EXE).

mod common;

use std::time::Duration;

use futures_util::StreamExt;
use hangar_client::LogOptions;
use hangar_testbed::Testbed;
use hangar_types::{CreateAppRequest, CreateMachineRequest, MachineConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_pulls_and_runs_an_image_pushed_to_the_built_in_registry() {
    let test = "agent_pulls_and_runs_an_image_pushed_to_the_built_in_registry";
    if hangar_testbed::skip_unless_root(test) {
        return;
    }
    let tb = Testbed::start(None).await.expect("testbed");
    let dir = tb.scratch("registry-image");
    let marker = "served from the built-in registry";
    let Some(image) = common::busybox_layout(&dir, marker) else {
        return;
    };
    // The registry answers on the API's own address.
    let host = tb.platform.url.trim_start_matches("http://").to_owned();
    let reference = format!("{host}/hello/web:v1");
    let login = hangar_image::push::RegistryLogin {
        user: "hangar".into(),
        password: tb.platform.token.clone(),
    };
    // The registry belongs to the control plane: no app, no push.
    let refused = hangar_image::push::push_oci_layout(&image.layout, &reference, Some(&login))
        .await
        .expect_err("a push to an app that does not exist");
    assert!(
        refused.to_string().contains("create the app first"),
        "{refused}"
    );
    tb.client
        .create_app(&CreateAppRequest {
            app_name: Some("hello".into()),
            org_slug: Some("personal".into()),
            ..Default::default()
        })
        .await
        .expect("create app");
    hangar_image::push::push_oci_layout(&image.layout, &reference, Some(&login))
        .await
        .expect("push to the built-in registry");
    assert!(
        tb.data_dir()
            .join("registry/blobs/sha256")
            .read_dir()
            .unwrap()
            .count()
            >= 3
    );

    let machine = tb
        .client
        .create_machine(
            "hello",
            &CreateMachineRequest {
                config: MachineConfig {
                    image: reference.clone(),
                    ..Default::default()
                },
                ..Default::default()
            },
        )
        .await
        .expect("the agent pulls the image from the built-in registry");
    let mut logs = tb
        .client
        .machine_logs(
            "hello",
            &machine.id,
            &LogOptions {
                follow: true,
                tail: None,
            },
        )
        .await
        .expect("logs");
    let seen = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = logs.next().await {
            if line.expect("log line").message.contains(marker) {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(
        seen,
        Ok(true),
        "the Machine did not print the image's marker"
    );
    tb.stop().await;
}
