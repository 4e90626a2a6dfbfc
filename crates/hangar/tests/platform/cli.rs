//! The CLI against a running platform: what a user types.

use std::process::Command;

use crate::support::*;

fn hangar(tb: &hangar_testbed::Testbed, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_hangar"))
        .args(args)
        .env("HANGAR_API_URL", &tb.platform.url)
        .env("HANGAR_API_TOKEN", &tb.platform.token)
        .env("NO_COLOR", "1")
        .output()
        .expect("run hangar");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apps_and_machines_from_the_command_line() {
    if hangar_testbed::skip_unless_root("apps_and_machines_from_the_command_line") {
        return;
    }
    let tb = testbed().await;
    let Some(image) = http_image(&tb, "cli") else {
        return;
    };
    let (code, _, err) = hangar(&tb, &["apps", "create", "cliapp"]);
    assert_eq!(code, 0, "{err}");
    let (code, out, _) = hangar(&tb, &["apps", "list"]);
    assert_eq!(code, 0);
    assert!(out.contains("cliapp"), "{out}");
    let (code, out, err) = hangar(
        &tb,
        &[
            "machine",
            "run",
            &image.reference,
            "-a",
            "cliapp",
            "--name",
            "one",
            "--env",
            "A=b",
            "--json",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let machine: hangar_types::Machine =
        serde_json::from_str(&out).expect("--json prints the machine");
    assert_eq!(machine.name, "one");
    assert_eq!(machine.config.env.get("A").map(String::as_str), Some("b"));
    let (code, out, _) = hangar(&tb, &["machine", "list", "-a", "cliapp"]);
    assert_eq!(code, 0);
    assert!(
        out.contains(&machine.id) && out.contains("started"),
        "{out}"
    );
    let (code, out, err) = hangar(
        &tb,
        &[
            "machine",
            "exec",
            "-a",
            "cliapp",
            &machine.id,
            "echo from-exec",
        ],
    );
    assert_eq!(code, 0, "{out} {err}");
    assert_eq!(out.trim(), "from-exec");
    let (code, _, err) = hangar(&tb, &["machine", "stop", &machine.id, "-a", "cliapp"]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = hangar(
        &tb,
        &[
            "machine",
            "destroy",
            &machine.id,
            "-a",
            "cliapp",
            "--force",
            "-y",
        ],
    );
    assert_eq!(code, 0, "{err}");
    // Errors say what to do.
    let (code, _, err) = hangar(&tb, &["machine", "list"]);
    assert_eq!(code, 1);
    assert!(err.contains("--app"), "{err}");
    let (code, _, err) = hangar(&tb, &["machine", "start", "00000000000000", "-a", "cliapp"]);
    assert_eq!(code, 1);
    assert!(err.contains("not found"), "{err}");
    tb.stop().await;
}
