//! Helpers shared by the end-to-end tests.

use std::time::Duration;

use hangar_testbed::{busybox_image, BusyboxImage, Testbed};
use hangar_types::{
    CreateAppRequest, CreateMachineRequest, Machine, MachineConfig, MachineGuest, MachineState,
};

mod dev_process;
pub mod networks;
pub use dev_process::DevProcess;

/// Boots a platform whose Machine init is this crate's `hangar` binary.
pub async fn testbed() -> Testbed {
    Testbed::start(Some(env!("CARGO_BIN_EXE_hangar")))
        .await
        .expect("boot testbed")
}

/// The busybox HTTP server image: serves /www on port 8080 and logs a boot line.
pub fn http_image(tb: &Testbed, name: &str) -> Option<BusyboxImage> {
    busybox_image(
        &tb.scratch(name),
        &[
            "/bin/sh",
            "-c",
            "echo booted $FLY_MACHINE_ID in $FLY_REGION; exec httpd -f -v -p 8080 -h /www",
        ],
        &[("/www/index.html", "hello from a hangar machine\n", 0o644)],
    )
}

/// A busybox image under `dir` that prints "booted" and serves "alive\n"
/// on port 8080 (for tests that run their own `hangar dev`).
pub fn alive_image(dir: &std::path::Path) -> Option<BusyboxImage> {
    busybox_image(
        &dir.join("image"),
        &[
            "/bin/sh",
            "-c",
            "echo booted; exec httpd -f -p 8080 -h /www",
        ],
        &[("/www/index.html", "alive\n", 0o644)],
    )
}

pub async fn create_app(tb: &Testbed, name: &str) {
    tb.client
        .create_app(&CreateAppRequest {
            app_name: Some(name.into()),
            org_slug: Some("personal".into()),
            ..Default::default()
        })
        .await
        .expect("create app");
}

pub fn config(image: &str) -> MachineConfig {
    MachineConfig {
        image: image.to_string(),
        guest: Some(MachineGuest {
            cpus: Some(1),
            memory_mb: Some(128),
            cpu_kind: Some("shared".into()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub async fn create_machine(tb: &Testbed, app: &str, config: MachineConfig) -> Machine {
    tb.client
        .create_machine(
            app,
            &CreateMachineRequest {
                config,
                ..Default::default()
            },
        )
        .await
        .expect("create machine")
}

/// Waits (bounded) for a machine state through the API.
pub async fn wait_state(tb: &Testbed, app: &str, id: &str, state: MachineState) -> Machine {
    hangar_testbed::wait_until_async(
        &format!("machine {id} to be {state}"),
        Duration::from_secs(30),
        || async {
            let m = tb
                .client
                .get_machine(app, id)
                .await
                .map_err(|e| e.to_string())?;
            if m.state == state {
                Ok(m)
            } else {
                Err(format!("state {}", m.state))
            }
        },
    )
    .await
}

/// GETs a URL with a short timeout.
pub async fn http_get(url: &str) -> Result<String, String> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .map_err(|e| e.to_string())?;
    let response = client.get(url).send().await.map_err(|e| e.to_string())?;
    response.text().await.map_err(|e| e.to_string())
}

/// Waits (bounded) until the machine's HTTP server answers.
pub async fn wait_http(url: &str) -> String {
    hangar_testbed::wait_until_async(&format!("{url} to answer"), Duration::from_secs(20), || {
        http_get(url)
    })
    .await
}

/// The URL of port 8080 on the machine's private IPv4 address.
pub fn url_of(machine: &Machine) -> String {
    format!(
        "http://{}:8080/",
        machine
            .private_ipv4
            .as_deref()
            .expect("machine has a private IPv4")
    )
}
