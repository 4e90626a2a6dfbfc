//! The project's own fixtures: every input under tests/fixtures (TOML, JSON, YAML) is loaded,
//! validated and converted, and each result is compared with the golden files next to it:
//!
//! - `<input>.model.golden`: the normalized model (flyctl's JSON field names),
//! - `<input>.diagnostics.golden`: every load and validation diagnostic, with line and column,
//! - `<input>.machines.golden`: the Machine config of every process group, plus the release
//!   command and console Machines.
//!
//! Run with `HANGAR_BLESS=1` to rewrite the golden files after a deliberate change, then review
//! the diff.

mod common;

use std::path::{Path, PathBuf};

use hangar_config::machine::{MachineConfig, TOOL_VERSION};
use hangar_config::{load_file, Diagnostic, LoadError, LoadedConfig};

const INPUT_EXTENSIONS: [&str; 4] = ["toml", "json", "yaml", "yml"];

fn inputs(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            inputs(&path, out);
        } else if path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| INPUT_EXTENSIONS.contains(&e))
        {
            out.push(path);
        }
    }
}

fn show(diagnostic: &Diagnostic, name: &str) -> String {
    let mut shown = diagnostic.clone();
    shown.file = Some(PathBuf::from(name));
    format!("{shown}\n")
}

fn stable(mut config: MachineConfig) -> serde_json::Value {
    if let Some(version) = config.metadata.get_mut("fly_flyctl_version") {
        assert_eq!(version, TOOL_VERSION);
        *version = "<tool version>".into();
    }
    serde_json::to_value(config).unwrap()
}

fn machines(loaded: &LoadedConfig) -> String {
    let config = &loaded.config;
    let mut out = serde_json::Map::new();
    let result = |value: Result<MachineConfig, hangar_config::machine::ConvertError>| match value {
        Ok(machine) => stable(machine),
        Err(err) => serde_json::json!({ "error": err.to_string() }),
    };
    for group in config.process_names() {
        out.insert(
            group.clone(),
            result(config.to_machine_config(&group, None)),
        );
    }
    if config.release_command().is_some() {
        out.insert(
            "<release_command>".into(),
            result(config.to_release_machine_config()),
        );
    }
    if config.console_command.is_some() {
        out.insert(
            "<console>".into(),
            result(config.to_console_machine_config()),
        );
    }
    serde_json::to_string_pretty(&out).unwrap() + "\n"
}

fn outputs(path: &Path) -> Vec<(&'static str, String)> {
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    match load_file(path) {
        Err(LoadError::Syntax(diagnostic)) => vec![("diagnostics", show(&diagnostic, &name))],
        Err(other) => panic!("{name}: {other}"),
        Ok(loaded) => {
            let model =
                serde_json::to_string_pretty(&loaded.config.to_definition()).unwrap() + "\n";
            let diagnostics: String = loaded.check().iter().map(|d| show(d, &name)).collect();
            vec![
                ("model", model),
                ("diagnostics", diagnostics),
                ("machines", machines(&loaded)),
            ]
        }
    }
}

#[test]
fn fixtures_match_golden_files() {
    let bless = std::env::var_os("HANGAR_BLESS").is_some();
    let mut files = Vec::new();
    inputs(&common::fixtures_dir(), &mut files);
    assert!(
        files.len() >= 20,
        "expected the fixture corpus, found {} inputs",
        files.len()
    );
    let mut failures = Vec::new();
    for input in &files {
        for (kind, actual) in outputs(input) {
            let golden = PathBuf::from(format!("{}.{kind}.golden", input.display()));
            if bless {
                std::fs::write(&golden, &actual).unwrap();
                continue;
            }
            match std::fs::read_to_string(&golden) {
                Ok(expected) if expected == actual => {}
                Ok(expected) => failures.push(format!(
                    "{}: differs from golden\n--- expected\n{expected}\n--- actual\n{actual}",
                    golden.display()
                )),
                Err(_) => failures.push(format!(
                    "{}: missing (run with HANGAR_BLESS=1 and review)",
                    golden.display()
                )),
            }
        }
    }
    println!("{} fixture inputs checked", files.len());
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn every_fixture_round_trips_through_all_formats() {
    let mut files = Vec::new();
    inputs(&common::fixtures_dir(), &mut files);
    for input in &files {
        let Ok(loaded) = load_file(input) else {
            continue;
        };
        if loaded.config.parse_error.is_some() {
            continue;
        }
        for format in [
            hangar_config::Format::Toml,
            hangar_config::Format::Json,
            hangar_config::Format::Yaml,
        ] {
            let text = hangar_config::render(&loaded.config, format, true).unwrap();
            let reloaded = hangar_config::load_str(&text, format, None).unwrap_or_else(|err| {
                panic!(
                    "{}: {format:?} output does not reload: {err}\n{text}",
                    input.display()
                )
            });
            assert_eq!(
                reloaded.config,
                loaded.config,
                "{} via {format:?}:\n{text}",
                input.display()
            );
        }
    }
}
