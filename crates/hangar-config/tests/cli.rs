//! The `hangar config` command functions: output and exit codes.

mod common;

use std::path::Path;

use hangar_config::cli::{
    env_command, show_command, validate_command, ShowFormat, EXIT_INVALID, EXIT_VALID,
};

fn run(command: impl FnOnce(&mut Vec<u8>) -> anyhow::Result<i32>) -> (i32, String) {
    let mut out = Vec::new();
    let code = command(&mut out).unwrap();
    (code, String::from_utf8(out).unwrap())
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn validate_exit_codes_and_strict_mode() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "fly.toml",
        "app = \"ok\"\nprimary_regoin = \"ord\"\n[http_service]\ninternal_port = 8080\n",
    );
    let (code, out) = run(|o| validate_command(&path, false, o));
    assert_eq!(code, EXIT_VALID, "{out}");
    assert!(
        out.contains("fly.toml:2:1: warning: primary_regoin: unknown top-level key"),
        "{out}"
    );
    assert!(out.contains("did you mean `primary_region`?"), "{out}");
    assert!(
        out.ends_with("Configuration is valid (1 warning)\n"),
        "{out}"
    );

    let (code, out) = run(|o| validate_command(&path, true, o));
    assert_eq!(code, EXIT_INVALID, "{out}");
    assert!(out.contains("fly.toml:2:1: error: primary_regoin"), "{out}");
    assert!(
        out.ends_with("App configuration is not valid: 1 error, 0 warnings\n"),
        "{out}"
    );

    // A directory means DIR/fly.toml.
    let (code, _) = run(|o| validate_command(dir.path(), false, o));
    assert_eq!(code, EXIT_VALID);
}

#[test]
fn validate_reports_syntax_errors_and_missing_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "fly.toml", "app = \"x\"\n[deploy\n");
    let (code, out) = run(|o| validate_command(&path, false, o));
    assert_eq!(code, EXIT_INVALID);
    assert!(out.contains("fly.toml:2:8: error:"), "{out}");
    let (code, out) = run(|o| validate_command(&dir.path().join("missing.toml"), false, o));
    assert_eq!(code, EXIT_INVALID);
    assert!(
        out.contains("cannot read") && out.contains("missing.toml"),
        "{out}"
    );
}

#[test]
fn show_prints_the_normalized_model() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "fly.toml",
        "app = \"shown\"\nkill_timeout = 5\n[[env]]\nA = 1\n",
    );
    let (code, json) = run(|o| show_command(&path, ShowFormat::Json, o));
    assert_eq!(code, EXIT_VALID);
    assert_eq!(json, "{\n  \"app\": \"shown\",\n  \"kill_timeout\": \"5s\",\n\n  \"env\": {\n    \"A\": \"1\"\n  }\n}\n");
    let (_, yaml) = run(|o| show_command(&path, ShowFormat::Yaml, o));
    assert_eq!(yaml, "\napp: shown\nkill_timeout: 5s\n\nenv:\n  A: '1'\n");
    let (_, toml) = run(|o| show_command(&path, ShowFormat::Toml, o));
    assert_eq!(
        toml,
        "app = \"shown\"\nkill_timeout = \"5s\"\n\n[env]\nA = \"1\"\n"
    );
}

#[test]
fn env_prints_variables_as_machines_see_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "fly.toml",
        "app = \"e\"\nprimary_region = \"ord\"\n[env]\nGREETING = \"hello world\"\nPORT = 8080\n",
    );
    let (code, out) = run(|o| env_command(&path, o));
    assert_eq!(code, EXIT_VALID);
    assert_eq!(
        out,
        "GREETING=\"hello world\"\nPORT=8080\nPRIMARY_REGION=ord\n"
    );
}
