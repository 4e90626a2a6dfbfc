//! In-place editing keeps comments and ordering, and the edited file loads to the expected model.

mod common;

use hangar_config::{load_str, Format, TomlEditor};

const ORIGINAL: &str = r#"# my app — hand written
app = "edit-me"   # the name

# Web and worker
[processes]
  web = "bin/web"   # serves HTTP

[[services]]
  # legacy service
  internal_port = 8080
  protocol = "tcp"

[vm]
  size = "shared-cpu-1x"
  memory = "512mb"
"#;

#[test]
fn edits_keep_comments_and_order() {
    let mut editor = TomlEditor::parse(ORIGINAL).unwrap();
    editor.set_app("edited").unwrap();
    editor.set_primary_region("ams").unwrap();
    editor.set_env("LOG_LEVEL", "debug").unwrap();
    editor.set_process("worker", "bin/worker").unwrap();
    editor.set_release_command("bin/migrate").unwrap();
    editor
        .set_docker_command(&["bin/start".to_string()])
        .unwrap();
    assert!(editor.set_internal_port(9090).unwrap());
    let text = editor.text();

    for kept in [
        "# my app — hand written\n",
        "app = \"edited\"   # the name\n",
        "# Web and worker\n",
        "  web = \"bin/web\"   # serves HTTP\n",
        "  # legacy service\n",
    ] {
        assert!(text.contains(kept), "lost {kept:?} in:\n{text}");
    }
    let processes = text.find("[processes]").unwrap();
    let services = text.find("[[services]]").unwrap();
    assert!(processes < services, "section order changed:\n{text}");

    let config = load_str(&text, Format::Toml, None).unwrap().config;
    assert_eq!(config.app.as_deref(), Some("edited"));
    assert_eq!(config.primary_region.as_deref(), Some("ams"));
    assert_eq!(config.env["LOG_LEVEL"], "debug");
    assert_eq!(config.processes["worker"], "bin/worker");
    assert_eq!(config.release_command(), Some("bin/migrate"));
    assert_eq!(
        config.experimental.unwrap().cmd,
        Some(vec!["bin/start".to_string()])
    );
    assert_eq!(config.services[0].internal_port, Some(9090));
}

#[test]
fn scale_vm_updates_the_matching_entry_or_adds_one() {
    let mut editor = TomlEditor::parse(ORIGINAL).unwrap();
    editor.set_vm(None, "performance-2x", None).unwrap();
    editor
        .set_vm(Some("worker"), "shared-cpu-4x", Some("2gb"))
        .unwrap();
    let config = load_str(&editor.text(), Format::Toml, None).unwrap().config;
    assert_eq!(config.vm.len(), 2);
    assert_eq!(config.vm[0].size.as_deref(), Some("performance-2x"));
    assert_eq!(
        config.vm[0].memory, None,
        "stale memory removed from the generic entry"
    );
    assert!(config.vm[0].processes.is_empty());
    assert_eq!(config.vm[1].size.as_deref(), Some("shared-cpu-4x"));
    assert_eq!(config.vm[1].memory.as_deref(), Some("2gb"));
    assert_eq!(config.vm[1].processes, vec!["worker".to_string()]);

    // Scaling the same group again edits that entry instead of adding another.
    editor
        .set_vm(Some("worker"), "shared-cpu-8x", None)
        .unwrap();
    let config = load_str(&editor.text(), Format::Toml, None).unwrap().config;
    assert_eq!(config.vm.len(), 2);
    assert_eq!(config.vm[1].size.as_deref(), Some("shared-cpu-8x"));
}

#[test]
fn internal_port_prefers_http_service_and_is_a_noop_without_services() {
    let mut editor = TomlEditor::parse(
        "app = \"a\"\n[http_service]\ninternal_port = 1\n[[services]]\ninternal_port = 2\n",
    )
    .unwrap();
    assert!(editor.set_internal_port(3).unwrap());
    let config = load_str(&editor.text(), Format::Toml, None).unwrap().config;
    assert_eq!(config.http_service.unwrap().internal_port, Some(3));
    assert_eq!(config.services[0].internal_port, Some(2));

    let mut bare = TomlEditor::parse("app = \"a\"\n").unwrap();
    assert!(!bare.set_internal_port(3).unwrap());
    assert_eq!(bare.text(), "app = \"a\"\n");
}

#[test]
fn setting_through_a_scalar_is_refused() {
    let mut editor = TomlEditor::parse("deploy = \"oops\"\n").unwrap();
    let err = editor.set_release_command("x").unwrap_err();
    assert!(err.to_string().contains("`deploy` is not a table"), "{err}");
}

#[test]
fn inline_tables_are_edited_too() {
    let mut editor = TomlEditor::parse("app = \"a\"\nenv = { A = \"1\" }\n").unwrap();
    editor.set_env("B", "2").unwrap();
    let config = load_str(&editor.text(), Format::Toml, None).unwrap().config;
    assert_eq!(config.env.len(), 2);
}

#[test]
fn save_and_open_round_trip_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fly.toml");
    std::fs::write(&path, ORIGINAL).unwrap();
    let mut editor = TomlEditor::open(&path).unwrap();
    editor.set_env("A", "1").unwrap();
    editor.save(&path).unwrap();
    let loaded = hangar_config::load_file(&path).unwrap();
    assert_eq!(loaded.config.env["A"], "1");
    assert!(std::fs::read_to_string(&path)
        .unwrap()
        .starts_with("# my app"));
}
