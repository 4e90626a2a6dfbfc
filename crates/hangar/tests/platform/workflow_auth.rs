//! `hangar auth`, `doctor`, `version`, `completion`, `regions` and
//! `machine update` through the built binary.

use std::os::unix::fs::PermissionsExt;

use crate::support::*;
use crate::workflow::{app_image, Hangar};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_doctor_and_small_commands() {
    if hangar_testbed::skip_unless_root("login_doctor_and_small_commands") {
        return;
    }
    let tb = testbed().await;
    let Some(image) = app_image(&tb, "wfa-image") else {
        return;
    };
    let hangar = Hangar::new(&tb, "wfauth");
    let url = tb.platform.url.as_str();
    let stored = hangar.dir.join("config/hangar/credentials.json");

    // Logged out: commands say where credentials come from.
    hangar
        .run_logged_out(&["apps", "list"], None)
        .await
        .fails_with("HANGAR_API_TOKEN");
    // A wrong token is refused and nothing is stored.
    hangar
        .run_logged_out(
            &["auth", "login", "--api-url", url, "--token", "wrong"],
            None,
        )
        .await
        .fails_with("rejected the token");
    assert!(!stored.exists());
    // The right one (from stdin) is stored 0600 and used from then on.
    hangar
        .run_logged_out(
            &["auth", "login", "--api-url", url],
            Some(&format!("{}\n", tb.platform.token)),
        )
        .await
        .ok();
    let mode = std::fs::metadata(&stored).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    hangar
        .run_logged_out(&["apps", "create", "wfauth"], None)
        .await
        .ok();
    let whoami = hangar.run_logged_out(&["auth", "whoami"], None).await.ok();
    assert!(
        whoami.out.contains(url) && whoami.out.contains("authenticated"),
        "{whoami:?}"
    );
    let token = hangar.run_logged_out(&["auth", "token"], None).await.ok();
    assert_eq!(token.out.trim(), tb.platform.token);
    let doctor = hangar.run_logged_out(&["doctor"], None).await.ok();
    assert!(doctor.out.contains("ok   api"), "{}", doctor.out);
    hangar.run_logged_out(&["auth", "logout"], None).await.ok();
    assert!(!stored.exists());
    // doctor fails (exit 1) with a bad token, saying so.
    let bad = hangar
        .run_logged_out(&["doctor", "--api-url", url, "-t", "nope"], None)
        .await;
    assert_eq!(bad.code, 1, "{bad:?}");
    assert!(bad.out.contains("FAIL api"), "{}", bad.out);

    // version, completion, regions.
    let version = hangar.run(&["version"]).await.ok();
    assert!(version.out.starts_with("hangar "), "{}", version.out);
    let bash = hangar.run(&["completion", "bash"]).await.ok();
    assert!(bash.out.contains("_hangar") && bash.out.contains("launch"));
    let machine = create_machine(&tb, "wfauth", config(&image.reference)).await;
    let regions = hangar.run(&["regions", "list", "--json"]).await.ok();
    let regions: serde_json::Value = serde_json::from_str(&regions.out).unwrap();
    assert_eq!(regions[0]["code"], "dev");

    // machine update: a new size and environment, bad sizes refused.
    hangar
        .run(&[
            "machine",
            "update",
            &machine.id,
            "-a",
            "wfauth",
            "--vm-size",
            "shared-cpu-99x",
        ])
        .await
        .fails_with("unknown VM size");
    hangar
        .run(&[
            "machine",
            "update",
            &machine.id,
            "-a",
            "wfauth",
            "--vm-size",
            "shared-cpu-2x",
            "-e",
            "MODE=updated",
        ])
        .await
        .ok();
    let updated = tb.client.get_machine("wfauth", &machine.id).await.unwrap();
    let guest = updated.config.guest.unwrap();
    assert_eq!((guest.cpus, guest.memory_mb), (Some(2), Some(512)));
    assert_eq!(
        updated.config.env.get("MODE").map(String::as_str),
        Some("updated")
    );
    tb.stop().await;
}
