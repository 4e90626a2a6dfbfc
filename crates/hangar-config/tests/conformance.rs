//! Conformance tier: flyctl's own `internal/appconfig` test inputs, read at run time from
//! `../shared/conformance/flyctl-appconfig` (never copied into this repository), checked against
//! every row of its EXPECTATIONS.md.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use hangar_config::machine::{
    AutostopMode, DnsConfig, MachineConfig, MachineGuest, MachineInit, MachineMount, OriginMachine,
    RestartPolicy, StopConfig, CONSOLE_GROUP, RELEASE_COMMAND_GROUP,
};
use hangar_config::model::{
    AutoStop, Concurrency, HeaderValue, HttpOptions, HttpResponseOptions, Metrics, Mount, Port,
    ProxyProtoOptions, Service, ServiceHttpCheck, ServiceTcpCheck, TlsOptions, TopLevelCheck,
};
use hangar_config::units::GoDuration;
use hangar_config::{
    load_file, load_str, render, validate, validate_groups, Config, DiagnosticKind, Format,
    LoadedConfig, TomlEditor,
};

type Outcome = Result<(), String>;

/// A check for one EXPECTATIONS.md row.
type RowCheck = (&'static str, fn() -> Outcome);

/// A check for one bullet; `None` when the bullet is outside the config layer.
type BulletCheck = (&'static str, Option<fn() -> Outcome>);

fn conformance_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance/flyctl-appconfig")
}

fn load(name: &str) -> Result<LoadedConfig, String> {
    load_file(&conformance_dir().join(name)).map_err(|err| format!("{name}: load failed: {err}"))
}

fn secs(n: i64) -> Option<GoDuration> {
    Some(GoDuration::from_secs(n))
}

/// `n` seconds as the Machines API carries it.
fn api_secs(n: u64) -> Option<hangar_types::GoDuration> {
    Some(hangar_types::GoDuration::from_secs(n))
}

/// The init of a Machine config (empty when unset).
fn init(config: &MachineConfig) -> MachineInit {
    config.init.clone().unwrap_or_default()
}

fn s(text: &str) -> Option<String> {
    Some(text.to_string())
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|i| i.to_string()).collect()
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn error_messages(diagnostics: &[hangar_config::Diagnostic]) -> String {
    diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| d.message.clone())
        .collect::<Vec<_>>()
        .join("\n")
}

fn guest(kind: &str, cpus: i64, memory_mb: i64) -> MachineGuest {
    MachineGuest {
        cpu_kind: Some(kind.into()),
        cpus: Some(cpus),
        memory_mb: Some(memory_mb),
        ..MachineGuest::default()
    }
}

fn machine(config: &Config, group: &str) -> Result<MachineConfig, String> {
    config
        .to_machine_config(group, None)
        .map_err(|err| format!("to_machine_config({group:?}): {err}"))
}

// ---------------------------------------------------------------------------------------------
// One function per EXPECTATIONS.md row.

fn app_name() -> Outcome {
    expect_eq!(load("app-name.toml")?.config.app, s("test-app"));
    Ok(())
}

fn build_builder() -> Outcome {
    let config = load("build.toml")?.config;
    expect_eq!(config.build.and_then(|b| b.builder), s("builder/name"));
    Ok(())
}

fn build_image() -> Outcome {
    let config = load("image.toml")?.config;
    expect_eq!(config.image(), Some("image/name"));
    Ok(())
}

fn build_dockerfile() -> Outcome {
    let config = load("docker.toml")?.config;
    expect_eq!(config.build.and_then(|b| b.dockerfile), s("./Dockerfile"));
    Ok(())
}

fn build_args() -> Outcome {
    let config = load("build-with-args.toml")?.config;
    expect_eq!(
        config.build.map(|b| b.args).unwrap_or_default(),
        map(&[("A", "B"), ("C", "D")])
    );
    Ok(())
}

fn compose_explicit() -> Outcome {
    let loaded = load("compose.toml")?;
    let build = loaded.config.build.clone().ok_or("no [build]")?;
    expect_eq!(
        build.compose.as_ref().and_then(|c| c.file.clone()),
        s("docker-compose.yml")
    );
    expect_eq!(
        build.detect_compose_file(&conformance_dir()),
        Some(PathBuf::from("docker-compose.yml"))
    );
    Ok(())
}

fn compose_autodetect() -> Outcome {
    let build = load("compose-autodetect.toml")?
        .config
        .build
        .ok_or("no [build]")?;
    let compose = build
        .compose
        .clone()
        .ok_or("[build.compose] should be present")?;
    expect_eq!(compose.file, None);
    for name in [
        "compose.yaml",
        "compose.yml",
        "docker-compose.yaml",
        "docker-compose.yml",
    ] {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        std::fs::write(dir.path().join(name), "services: {}\n").map_err(|e| e.to_string())?;
        expect_eq!(
            build.detect_compose_file(dir.path()),
            Some(PathBuf::from(name))
        );
    }
    let empty = tempfile::tempdir().map_err(|e| e.to_string())?;
    expect_eq!(build.detect_compose_file(empty.path()), None);
    Ok(())
}

fn services_empty_section() -> Outcome {
    expect!(
        load("services-emptysection.toml")?
            .config
            .services
            .is_empty(),
        "bare [[services]] should be dropped"
    );
    Ok(())
}

fn services_ports() -> Outcome {
    let config = load("services-ports.toml")?.config;
    let expected = Service {
        protocol: s("tcp"),
        internal_port: Some(8080),
        ports: vec![
            Port {
                port: Some(80),
                tls_options: Some(TlsOptions {
                    alpn: strings(&["h2", "http/1.1"]),
                    versions: strings(&["TLSv1.2", "TLSv1.3"]),
                    default_self_signed: None,
                }),
                http_options: Some(HttpOptions {
                    compress: Some(true),
                    response: Some(HttpResponseOptions {
                        headers: BTreeMap::from([
                            ("fly-request-id".to_string(), HeaderValue::Flag(false)),
                            (
                                "fly-wasnt-here".to_string(),
                                HeaderValue::Text("yes, it was".into()),
                            ),
                            (
                                "multi-valued".to_string(),
                                HeaderValue::List(strings(&["value1", "value2"])),
                            ),
                        ]),
                        pristine: None,
                    }),
                    ..HttpOptions::default()
                }),
                ..Port::default()
            },
            Port {
                port: Some(82),
                handlers: strings(&["proxy_proto"]),
                proxy_proto_options: Some(ProxyProtoOptions { version: s("v2") }),
                ..Port::default()
            },
        ],
        ..Service::default()
    };
    expect_eq!(config.services, vec![expected]);
    Ok(())
}

fn services_multi() -> Outcome {
    let config = load("services-multi.toml")?.config;
    let service = |port, kind: &str, hard, soft| Service {
        protocol: s("tcp"),
        internal_port: Some(port),
        concurrency: Some(Concurrency {
            kind: s(kind),
            hard_limit: Some(hard),
            soft_limit: Some(soft),
        }),
        ..Service::default()
    };
    expect_eq!(
        config.services,
        vec![
            service(8081, "requests", 22, 13),
            service(9999, "connections", 10, 8)
        ]
    );
    Ok(())
}

fn always_invalid() -> Outcome {
    let config = load("always-invalid-v2.toml")?.config;
    let expected = Config {
        app: s("unsupported-format"),
        parse_error: s("Unknown type for service concurrency: int64"),
        ..Config::default()
    };
    expect_eq!(config, expected);
    expect_eq!(config.default_process_group(), String::new());
    let errors = error_messages(&validate(&config));
    expect!(
        errors.contains("Unknown type for service concurrency: int64"),
        "validation must surface the stored error, got {errors}"
    );
    expect!(
        config.to_machine_config("", None).is_err(),
        "conversion must surface the stored error"
    );
    Ok(())
}

fn experimental_alt() -> Outcome {
    let config = load("experimental-alt.toml")?.config;
    let experimental = config.experimental.clone().ok_or("no [experimental]")?;
    expect_eq!(experimental.cmd, Some(strings(&["cmd"])));
    expect_eq!(experimental.entrypoint, Some(strings(&["entrypoint"])));
    expect_eq!(experimental.exec, Some(strings(&["exec"])));
    expect_eq!(config.kill_timeout, secs(3));
    expect_eq!(
        config.metrics,
        vec![Metrics {
            port: Some(9000),
            path: s("/foo"),
            ..Metrics::default()
        }]
    );
    Ok(())
}

fn mounts_array() -> Outcome {
    let config = load("mounts-array.toml")?.config;
    expect_eq!(
        config.mounts,
        vec![Mount {
            source: s("pg_data"),
            destination: s("/data"),
            ..Mount::default()
        }]
    );
    Ok(())
}

fn format_quirks() -> Outcome {
    let config = load("format-quirks.toml")?.config;
    expect_eq!(config.vm.len(), 1);
    expect_eq!(config.vm[0].memory, s("512"));
    expect_eq!(
        config.mounts,
        vec![Mount {
            source: s("data"),
            destination: s("/data"),
            initial_size: s("200"),
            snapshot_retention: Some(10),
            ..Mount::default()
        }]
    );
    Ok(())
}

fn env_list() -> Outcome {
    let config = load("env-list.toml")?.config;
    expect_eq!(
        config.env,
        map(&[("FOO", "BAR"), ("TWO", "2"), ("TRUE", "true")])
    );
    Ok(())
}

fn old_format() -> Outcome {
    let config = load("old-format.toml")?.config;
    let http_check = |interval, timeout, headers| ServiceHttpCheck {
        interval: secs(interval),
        timeout: secs(timeout),
        headers,
        ..ServiceHttpCheck::default()
    };
    let expected = Config {
        app: s("foo"),
        env: map(&[("FOO", "STRING"), ("BAR", "123")]),
        build: Some(hangar_config::model::Build {
            build_target: s("thalayer"),
            ..Default::default()
        }),
        services: vec![Service {
            internal_port: Some(8080),
            auto_stop_machines: Some(AutoStop::Off),
            concurrency: Some(Concurrency {
                kind: s("requests"),
                hard_limit: Some(23),
                soft_limit: Some(12),
            }),
            ports: vec![Port {
                port: Some(80),
                handlers: strings(&["http"]),
                ..Port::default()
            }],
            tcp_checks: vec![
                ServiceTcpCheck {
                    interval: secs(10),
                    timeout: secs(2),
                    grace_period: None,
                },
                ServiceTcpCheck {
                    interval: secs(20),
                    timeout: secs(3),
                    grace_period: None,
                },
            ],
            http_checks: vec![
                http_check(30, 4, map(&[("origin", "http://localhost:8000")])),
                http_check(
                    20,
                    3,
                    map(&[
                        ("fly-healthcheck", "1"),
                        ("metoo", "true"),
                        ("astring", "string"),
                    ]),
                ),
            ],
            ..Service::default()
        }],
        mounts: vec![Mount {
            source: s("data"),
            destination: s("/data"),
            ..Mount::default()
        }],
        metrics: vec![Metrics {
            port: Some(9999),
            path: s("/metrics"),
            ..Metrics::default()
        }],
        ..Config::default()
    };
    expect_eq!(config, expected);
    Ok(())
}

fn old_processes() -> Outcome {
    let config = load("old-processes.toml")?.config;
    expect_eq!(
        config.processes,
        map(&[("web", "./web"), ("worker", "./worker")])
    );
    expect_eq!(config.app, None);
    Ok(())
}

fn old_pg_checks() -> Outcome {
    let config = load("old-pg-checks.toml")?.config;
    let expected = TopLevelCheck {
        port: Some(5500),
        kind: s("http"),
        path: s("/flycheck/pg"),
        ..TopLevelCheck::default()
    };
    expect_eq!(
        config.checks,
        BTreeMap::from([("pg".to_string(), expected)])
    );
    Ok(())
}

fn full_reference() -> Outcome {
    let loaded = load("full-reference.toml")?;
    let config = &loaded.config;
    let http = config.http_service.clone().ok_or("no [http_service]")?;
    expect_eq!(http.checks[0].interval, Some(GoDuration::from_secs(81)));
    expect_eq!(config.kill_timeout, secs(3));
    expect_eq!(config.vm[0].memory, s("8gb"));
    expect_eq!(config.vm[0].memory_mb, Some(8192));
    expect_eq!(config.vm[1].memory_mb, Some(4096));
    expect_eq!(config.vm[1].cpus, None);
    let deploy = config.deploy.clone().ok_or("no [deploy]")?;
    expect_eq!(deploy.strategy, s("rolling-eyes"));
    expect_eq!(deploy.max_unavailable, Some(0.2));
    expect_eq!(deploy.release_command_timeout, secs(180));
    let release_vm = deploy
        .release_command_vm
        .clone()
        .ok_or("no release_command_vm")?;
    expect_eq!(
        (release_vm.size, release_vm.memory),
        (s("performance-2x"), s("8g"))
    );
    expect_eq!(
        http.http_options.as_ref().and_then(|o| o.idle_timeout),
        Some(600)
    );
    expect_eq!(config.metrics.len(), 2);
    expect_eq!(config.metrics[1].processes, strings(&["web"]));
    expect_eq!(config.files.len(), 3);
    expect_eq!(config.statics[0].tigris_bucket, s("example-bucket"));
    expect_eq!(config.statics[0].index_document, s("index.html"));
    expect_eq!(config.restart[0].policy, s("always"));
    expect_eq!(config.restart[0].retries, Some(3));
    expect_eq!(config.restart[0].processes, strings(&["web"]));
    expect_eq!(http.machine_checks.len(), 1);
    expect_eq!(config.services[0].machine_checks.len(), 1);
    expect_eq!(config.machine_checks.len(), 1);
    expect_eq!(config.machine_checks[0].kill_timeout, secs(5));
    expect_eq!(
        http.concurrency.as_ref().and_then(|c| c.kind.clone()),
        s("donuts")
    );
    expect_eq!(config.services[0].http_checks.len(), 2);
    expect_eq!(config.checks["status"].headers.len(), 2);
    expect!(
        !loaded.diagnostics.iter().any(|d| d.is_unknown_key()),
        "full-reference has no unknown keys: {:?}",
        loaded.diagnostics
    );

    for format in [Format::Toml, Format::Json, Format::Yaml] {
        let text = render(config, format, true).map_err(|e| e.to_string())?;
        let reloaded =
            load_str(&text, format, None).map_err(|e| format!("{format:?} reload: {e}"))?;
        expect_eq!(reloaded.config, *config);
    }
    let json = render(config, Format::Json, false).map_err(|e| e.to_string())?;
    expect!(
        json.starts_with("{\n  \"app\": \"foo\",\n"),
        "JSON starts with app: {json:.40}"
    );
    expect!(
        json.contains("\n\n  \"experimental\": {"),
        "JSON has a blank line before experimental"
    );
    let yaml = render(config, Format::Yaml, true).map_err(|e| e.to_string())?;
    expect!(yaml.contains("\napp: foo\n"), "YAML has app: foo");
    expect!(
        yaml.contains("\n\nexperimental:"),
        "YAML has a blank line before experimental"
    );

    let definition = config.to_definition();
    expect_eq!(definition["kill_timeout"], serde_json::json!("3s"));
    expect_eq!(
        definition["deploy"]["release_command_timeout"],
        serde_json::json!("3m0s")
    );
    expect_eq!(
        definition["http_service"]["auto_stop_machines"],
        serde_json::json!("off")
    );
    expect!(
        definition["swap_size_mb"].is_i64(),
        "integers stay integers"
    );
    expect!(
        definition["services"][0]["internal_port"].is_i64(),
        "integers stay integers"
    );
    Ok(())
}

fn process_names(file: &str, default_group: &str, names: &[&str]) -> Outcome {
    let config = load(file)?.config;
    expect_eq!(config.default_process_group(), default_group.to_string());
    expect_eq!(config.process_names(), strings(names));
    Ok(())
}

fn processes_one() -> Outcome {
    process_names("processes-one.toml", "web", &["web"])?;
    expect_eq!(
        load("processes-one.toml")?.config.format_process_names(),
        "['web']".to_string()
    );
    Ok(())
}

fn processes_multi() -> Outcome {
    process_names("processes-multi.toml", "bar", &["bar", "foo", "zzz"])
}

fn processes_multi_with_app() -> Outcome {
    process_names(
        "processes-multiwithapp.toml",
        "app",
        &["aaa", "abc", "app", "ass", "bbb"],
    )?;
    expect_eq!(Config::default().default_process_group(), "app".to_string());
    Ok(())
}

fn processes_none() -> Outcome {
    process_names("processes-none.toml", "app", &["app"])
}

fn setters_service() -> Outcome {
    let mut config = load("setters-service.toml")?.config;
    config.set_internal_port(1234);
    config.set_http_check("/", BTreeMap::new());
    config.set_concurrency(12, 34);
    let service = &config.services[0];
    expect_eq!(service.internal_port, Some(1234));
    expect_eq!(
        service.concurrency,
        Some(Concurrency {
            kind: s("connections"),
            hard_limit: Some(34),
            soft_limit: Some(12),
        })
    );
    expect_eq!(
        service.http_checks,
        vec![ServiceHttpCheck {
            interval: secs(10),
            timeout: secs(2),
            grace_period: secs(5),
            method: s("GET"),
            path: s("/"),
            protocol: s("http"),
            tls_skip_verify: Some(false),
            ..ServiceHttpCheck::default()
        }]
    );
    // The in-place editor targets the same service and keeps the file's comment.
    let text = std::fs::read_to_string(conformance_dir().join("setters-service.toml"))
        .map_err(|e| e.to_string())?;
    let mut editor = TomlEditor::parse(&text).map_err(|e| e.to_string())?;
    expect!(
        editor.set_internal_port(1234).map_err(|e| e.to_string())?,
        "editor found services[0]"
    );
    let edited = editor.text();
    expect!(
        edited.starts_with("# Use this file to test setters.go"),
        "comment kept"
    );
    let reloaded = load_str(&edited, Format::Toml, None)
        .map_err(|e| e.to_string())?
        .config;
    expect_eq!(reloaded.services[0].internal_port, Some(1234));
    Ok(())
}

fn setters_http_service() -> Outcome {
    let mut config = load("setters-httpservice.toml")?.config;
    config.set_internal_port(1234);
    config.set_http_check("/", BTreeMap::new());
    config.set_concurrency(12, 34);
    let http = config.http_service.clone().ok_or("no [http_service]")?;
    expect_eq!(http.internal_port, Some(1234));
    expect_eq!(http.checks.len(), 1);
    expect_eq!(http.concurrency.and_then(|c| c.soft_limit), Some(12));
    expect!(config.services.is_empty(), "services stay empty");
    let mut bare = Config::default();
    bare.set_internal_port(1);
    bare.set_concurrency(1, 2);
    expect_eq!(bare, Config::default());
    Ok(())
}

fn setters_deploy() -> Outcome {
    let mut config = load("setters-deploy.toml")?.config;
    config.set_release_command("/release");
    let deploy = config.deploy.ok_or("no [deploy]")?;
    expect_eq!(deploy.strategy, s("immediate"));
    expect_eq!(deploy.release_command, s("/release"));
    Ok(())
}

fn setters_experimental() -> Outcome {
    let mut config = load("setters-experimental.toml")?.config;
    config.set_docker_entrypoint(strings(&["/entry"]));
    config.set_docker_command(strings(&["/cmd"]));
    let experimental = config.experimental.ok_or("no [experimental]")?;
    expect_eq!(experimental.exec, Some(strings(&["/exec"])));
    expect_eq!(experimental.entrypoint, Some(strings(&["/entry"])));
    expect_eq!(experimental.cmd, Some(strings(&["/cmd"])));
    Ok(())
}

fn setters_processes() -> Outcome {
    let mut config = load("setters-processes.toml")?.config;
    config.set_process("web", "run web");
    expect_eq!(config.processes, map(&[("foo", "bar"), ("web", "run web")]));
    Ok(())
}

fn tomachine() -> Outcome {
    let config = load("tomachine.toml")?.config;
    let got = machine(&config, "")?;
    expect_eq!(
        got.env,
        map(&[
            ("FOO", "BAR"),
            ("PRIMARY_REGION", "mia"),
            ("FLY_PROCESS_GROUP", "app")
        ])
    );
    expect_eq!(got.services.len(), 1);
    let ports = &got.services[0].ports;
    expect_eq!(ports.len(), 2);
    expect_eq!(
        (
            ports[0].port,
            ports[0].handlers.clone(),
            ports[0].force_https
        ),
        (Some(80), strings(&["http"]), Some(true))
    );
    expect_eq!(
        (
            ports[1].port,
            ports[1].handlers.clone(),
            ports[1].force_https
        ),
        (Some(443), strings(&["http", "tls"]), None)
    );
    expect_eq!(got.metadata.len(), 3);
    expect_eq!(got.metadata["fly_process_group"], "app".to_string());
    expect_eq!(got.metadata["fly_platform_version"], "v2".to_string());
    expect!(
        got.metadata.contains_key("fly_flyctl_version"),
        "tool version recorded"
    );
    expect_eq!(
        got.metrics.as_ref().map(|m| (m.port, m.path.clone())),
        Some((Some(9999), s("/metrics")))
    );
    expect_eq!(got.statics.len(), 1);
    expect_eq!(
        got.mounts,
        vec![MachineMount {
            name: s("data"),
            path: "/data".into(),
            ..MachineMount::default()
        }]
    );
    let listening = &got.checks["listening"];
    expect_eq!(
        (listening.check_type.as_deref(), listening.port),
        (Some("tcp"), Some(8080))
    );
    let status = &got.checks["status"];
    expect_eq!(
        (
            status.check_type.as_deref(),
            status.port,
            status.interval,
            status.timeout,
            status.path.clone()
        ),
        (
            Some("http"),
            Some(8080),
            api_secs(10),
            api_secs(1),
            s("/status")
        )
    );
    expect_eq!(
        got.stop_config,
        Some(StopConfig {
            timeout: api_secs(10),
            signal: s("SIGTERM"),
        })
    );
    expect_eq!(init(&got).swap_size_mb, Some(512));
    expect_eq!(
        got.restart.as_ref().and_then(|r| r.policy),
        Some(RestartPolicy::Always)
    );
    expect_eq!(
        got.dns.as_ref().map(|d| d.nameservers.clone()),
        Some(strings(&["1.2.3.4"]))
    );

    // Update: keeps guest, schedule, auto_destroy, DNS (merged), extra metadata; replaces env
    // and mounts; clears init.cmd.
    let mut existing = MachineConfig {
        guest: Some(guest("performance", 4, 8192)),
        schedule: s("daily"),
        auto_destroy: Some(true),
        dns: Some(DnsConfig {
            skip_registration: Some(true),
            ..DnsConfig::default()
        }),
        env: map(&[("OLD", "1")]),
        mounts: vec![MachineMount {
            volume: "vol_old".into(),
            name: s("old"),
            path: "/old".into(),
            ..MachineMount::default()
        }],
        ..MachineConfig::default()
    };
    existing.metadata.insert("keep_me".into(), "yes".into());
    existing.init = Some(MachineInit {
        cmd: strings(&["old", "cmd"]),
        ..MachineInit::default()
    });
    let updated = config
        .to_machine_config("", Some(&existing))
        .map_err(|e| e.to_string())?;
    expect_eq!(updated.guest, existing.guest);
    expect_eq!(updated.schedule, s("daily"));
    expect_eq!(updated.auto_destroy, Some(true));
    let dns = updated.dns.clone().ok_or("dns kept")?;
    expect!(
        dns.skip_registration == Some(true) && dns.nameservers == strings(&["1.2.3.4"]),
        "dns merged: {dns:?}"
    );
    expect_eq!(updated.metadata.get("keep_me"), Some(&"yes".to_string()));
    expect!(!updated.env.contains_key("OLD"), "env replaced");
    expect_eq!(updated.mounts, got.mounts);
    expect_eq!(init(&updated).cmd, Vec::<String>::new());

    let release = config
        .to_release_machine_config()
        .map_err(|e| e.to_string())?;
    expect_eq!(init(&release).cmd, strings(&["migrate-db"]));
    expect_eq!(release.env.get("RELEASE_COMMAND"), Some(&"1".to_string()));
    expect_eq!(release.env.get("FOO"), Some(&"BAR".to_string()));
    expect_eq!(
        release.metadata["fly_process_group"],
        RELEASE_COMMAND_GROUP.to_string()
    );
    expect_eq!(release.auto_destroy, Some(true));
    expect_eq!(
        release.restart.as_ref().and_then(|r| r.policy),
        Some(RestartPolicy::No)
    );
    expect!(
        release
            .dns
            .as_ref()
            .is_some_and(|d| d.skip_registration == Some(true)),
        "dns skip"
    );
    expect_eq!(release.stop_config, got.stop_config);
    expect_eq!(release.guest, Some(guest("performance", 2, 4096)));
    expect!(
        release.services.is_empty()
            && release.mounts.is_empty()
            && release.checks.is_empty()
            && release.metrics.is_none(),
        "no services/mounts/checks/metrics"
    );

    let console = config
        .to_console_machine_config()
        .map_err(|e| e.to_string())?;
    expect_eq!(init(&console).exec, strings(&["/bin/sleep", "inf"]));
    expect_eq!(
        console.metadata["fly_process_group"],
        CONSOLE_GROUP.to_string()
    );
    expect_eq!(console.stop_config, None);
    expect_eq!(console.auto_destroy, Some(true));

    let origin = OriginMachine {
        config: MachineConfig {
            image: "nginx".into(),
            env: map(&[("BAR", "baz")]),
            ..MachineConfig::default()
        },
        private_ip: "1.2.3.4".into(),
    };
    let check = &config
        .http_service
        .as_ref()
        .ok_or("no http_service")?
        .machine_checks[0];
    let test = config
        .to_test_machine_config(check, Some(&origin))
        .map_err(|e| e.to_string())?;
    expect_eq!(test.env.get("FOO"), Some(&"BAR".to_string()));
    expect_eq!(test.env.get("BAR"), Some(&"baz".to_string()));
    expect_eq!(
        test.env.get("FLY_TEST_MACHINE_IP"),
        Some(&"1.2.3.4".to_string())
    );
    expect_eq!(test.image, "curlimages/curl".to_string());
    expect_eq!(test.stop_config, Some(StopConfig::default()));
    Ok(())
}

fn tomachine_experimental() -> Outcome {
    let mut config = load("tomachine-experimental.toml")?.config;
    let got = machine(&config, "")?;
    expect_eq!(init(&got).cmd, strings(&["/call", "me"]));
    expect_eq!(init(&got).entrypoint, strings(&["/IgoFirst"]));
    expect_eq!(init(&got).exec, strings(&["ignore", "others"]));
    config.set_process("app", "/override experimental");
    let got = machine(&config, "")?;
    expect_eq!(init(&got).cmd, strings(&["/override", "experimental"]));
    expect_eq!(init(&got).entrypoint, strings(&["/IgoFirst"]));
    expect_eq!(init(&got).exec, strings(&["ignore", "others"]));
    Ok(())
}

fn tomachine_process_groups() -> Outcome {
    let config = load("tomachine-processgroups.toml")?.config;
    let summary = |m: &MachineConfig| {
        m.services
            .iter()
            .map(|s| (s.protocol.clone(), s.internal_port))
            .collect::<Vec<_>>()
    };
    let tcp = |port| ("tcp".to_string(), port);
    let app = machine(&config, "app")?;
    expect_eq!(init(&app).cmd, strings(&["run-nginx"]));
    expect_eq!(summary(&app), vec![tcp(8080), tcp(1111)]);
    expect_eq!(
        app.checks.keys().cloned().collect::<Vec<_>>(),
        strings(&["listening"])
    );
    let vpn = machine(&config, "vpn")?;
    expect_eq!(init(&vpn).cmd, strings(&["run-tailscale"]));
    expect_eq!(summary(&vpn), vec![("udp".to_string(), 9999), tcp(1111)]);
    expect!(vpn.checks.is_empty(), "vpn has no checks");
    let foo_group = machine(&config, "foo")?;
    expect_eq!(init(&foo_group).cmd, strings(&["keep", "me", "alive"]));
    expect_eq!(summary(&foo_group), vec![tcp(1111)]);
    expect_eq!(
        foo_group.checks.keys().cloned().collect::<Vec<_>>(),
        strings(&["listening"])
    );
    Ok(())
}

fn tomachine_default_for_new_apps() -> Outcome {
    let mut config = load("tomachine-default-for-new-apps.toml")?.config;
    let got = machine(&config, "")?;
    expect_eq!(got.checks["alive"].port, Some(8080));
    config.http_service = None;
    match config.to_machine_config("", None) {
        Err(err) => expect!(
            err.to_string().contains("has no port set"),
            "message: {err}"
        ),
        Ok(_) => return Err("a check without port and without http_service must fail".into()),
    }
    Ok(())
}

fn tomachine_mounts() -> Outcome {
    let config = load("tomachine-mounts.toml")?.config;
    let names = |group: &str| -> Result<Vec<String>, String> {
        Ok(machine(&config, group)?
            .mounts
            .into_iter()
            .filter_map(|m| m.name)
            .collect())
    };
    expect_eq!(names("")?, strings(&["data"]));
    expect_eq!(names("app")?, strings(&["data"]));
    expect_eq!(names("back")?, strings(&["trash"]));
    expect_eq!(names("hola")?, Vec::<String>::new());
    Ok(())
}

fn tomachine_services() -> Outcome {
    let config = load("tomachine-services.toml")?.config;
    let got = machine(&config, "")?;
    let pairs: Vec<(Option<bool>, Option<AutostopMode>)> = got
        .services
        .iter()
        .map(|s| (s.autostart, s.autostop))
        .collect();
    expect_eq!(
        pairs,
        vec![
            (Some(true), Some(AutostopMode::Stop)),
            (Some(true), Some(AutostopMode::Stop)),
            (Some(false), Some(AutostopMode::Off)),
            (Some(false), None),
            (None, Some(AutostopMode::Stop)),
            (None, None),
        ]
    );
    let json = serde_json::to_value(&got).map_err(|e| e.to_string())?;
    expect_eq!(json["services"][2]["autostop"], serde_json::json!(false));
    expect_eq!(json["services"][1]["autostop"], serde_json::json!(true));
    Ok(())
}

fn tomachine_compute() -> Outcome {
    let config = load("tomachine-compute.toml")?.config;
    expect_eq!(
        machine(&config, "app")?.guest,
        Some(guest("shared", 2, 512))
    );
    expect_eq!(
        machine(&config, "worker")?.guest,
        Some(guest("shared", 2, 512))
    );
    expect_eq!(
        machine(&config, "whisper")?.guest,
        Some(MachineGuest {
            gpu_kind: s("a100-pcie-40gb"),
            ..guest("performance", 8, 65536)
        })
    );
    expect_eq!(
        machine(&config, "isolated")?.guest,
        Some(MachineGuest {
            host_dedication_id: s("lookma-iamsolo"),
            ..guest("shared", 1, 256)
        })
    );
    Ok(())
}

fn tomachine_compute_nodefault() -> Outcome {
    let config = load("tomachine-compute-nodefault.toml")?.config;
    expect_eq!(
        machine(&config, "bar")?.guest,
        Some(guest("performance", 4, 8192))
    );
    expect_eq!(machine(&config, "app")?.guest, None);
    expect_eq!(machine(&config, "woo")?.guest, None);
    Ok(())
}

fn tomachine_host_dedication_id() -> Outcome {
    let config = load("tomachine-hostdedicationid.toml")?.config;
    expect_eq!(config.flatten("front").host_dedication_id, Some("toplevel"));
    expect_eq!(machine(&config, "front")?.guest, None);
    expect_eq!(config.flatten("back").host_dedication_id, Some("specific"));
    expect_eq!(
        machine(&config, "back")?.guest,
        Some(MachineGuest {
            host_dedication_id: s("specific"),
            ..guest("shared", 1, 256)
        })
    );
    expect_eq!(
        machine(&config, "other")?.guest,
        Some(MachineGuest {
            host_dedication_id: s("toplevel"),
            ..guest("shared", 4, 1024)
        })
    );
    Ok(())
}

fn tomachine_machine_checks() -> Outcome {
    let mut config = load("tomachine-machinechecks.toml")?.config;
    let check = config
        .http_service
        .as_ref()
        .ok_or("no http_service")?
        .machine_checks[0]
        .clone();
    let origin = OriginMachine {
        config: MachineConfig {
            image: "nginx".into(),
            ..MachineConfig::default()
        },
        private_ip: "fdaa::1".into(),
    };
    // Custom image: only the check's kill settings.
    config.kill_timeout = secs(9);
    config.kill_signal = s("SIGQUIT");
    let custom = config
        .to_test_machine_config(&check, Some(&origin))
        .map_err(|e| e.to_string())?;
    expect_eq!(custom.image, "curlimages/curl".to_string());
    expect_eq!(custom.stop_config, Some(StopConfig::default()));
    let mut with_kill = check.clone();
    with_kill.kill_signal = s("SIGKILL");
    with_kill.kill_timeout = secs(5);
    let custom = config
        .to_test_machine_config(&with_kill, Some(&origin))
        .map_err(|e| e.to_string())?;
    expect_eq!(
        custom.stop_config,
        Some(StopConfig {
            timeout: api_secs(5),
            signal: s("SIGKILL")
        })
    );
    // No image: image from the tested Machine; kill settings from the check, else the app.
    let mut no_image = check.clone();
    no_image.image = None;
    let inherited = config
        .to_test_machine_config(&no_image, Some(&origin))
        .map_err(|e| e.to_string())?;
    expect_eq!(inherited.image, "nginx".to_string());
    expect_eq!(
        inherited.stop_config,
        Some(StopConfig {
            timeout: api_secs(9),
            signal: s("SIGQUIT")
        })
    );
    no_image.kill_signal = s("SIGUSR1");
    let inherited = config
        .to_test_machine_config(&no_image, Some(&origin))
        .map_err(|e| e.to_string())?;
    expect_eq!(
        inherited.stop_config,
        Some(StopConfig {
            timeout: api_secs(9),
            signal: s("SIGUSR1")
        })
    );
    expect_eq!(
        inherited.env.get("FLY_TEST_MACHINE_IP"),
        Some(&"fdaa::1".to_string())
    );
    expect_eq!(
        inherited.env.get("FLY_TEST_COMMAND"),
        Some(&"1".to_string())
    );
    expect_eq!(
        inherited.env.get("PRIMARY_REGION"),
        Some(&"mia".to_string())
    );
    expect_eq!(init(&inherited).entrypoint, strings(&["/bin/sh"]));
    // Missing origin: empty FLY_TEST_MACHINE_IP; without an image it is an error.
    let orphan = config
        .to_test_machine_config(&check, None)
        .map_err(|e| e.to_string())?;
    expect_eq!(orphan.env.get("FLY_TEST_MACHINE_IP"), Some(&String::new()));
    match config.to_test_machine_config(&no_image, None) {
        Err(err) => expect!(err.to_string().contains("missing image"), "{err}"),
        Ok(_) => return Err("no image and no origin must fail".into()),
    }
    Ok(())
}

fn validate_groups_row() -> Outcome {
    let mut config = load("validate-groups.toml")?.config;
    config.deploy.get_or_insert_with(Default::default).strategy = s("canary");
    let errors = error_messages(&validate(&config));
    expect!(
        errors.contains("canary deployment strategy is not supported when using mounted volumes"),
        "{errors}"
    );
    expect!(
        hangar_config::has_errors(&validate_groups(&config, &["app"])),
        "app group has the mount"
    );
    let foo_group = validate_groups(&config, &["foo"]);
    expect!(
        !hangar_config::has_errors(&foo_group),
        "foo passes: {foo_group:?}"
    );
    Ok(())
}

fn validate_mounts_row() -> Outcome {
    let config = load("validate-mounts.toml")?.config;
    let errors = error_messages(&validate(&config));
    expect!(
        errors.contains("has an initial_size '15Mb' value which is smaller than 1GB"),
        "{errors}"
    );
    let group_errors = error_messages(&validate_groups(&config, &["app"]));
    expect!(
        group_errors.contains("group 'app' has more than one [[mounts]] section defined"),
        "{group_errors}"
    );
    Ok(())
}

fn validate_services_row() -> Outcome {
    let config = load("validate-services.toml")?.config;
    let errors = error_messages(&validate(&config));
    expect!(errors.contains("Service has no processes set"), "{errors}");
    expect!(
        errors.contains("Service must expose at least one port"),
        "{errors}"
    );
    let success = validate_groups(&config, &["success"]);
    expect!(!hangar_config::has_errors(&success), "{success:?}");
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The bullet list "Tests without testdata files".

fn config_test_bullet() -> Outcome {
    let mut config = Config::default();
    config.set_env("KEY", "value");
    let text = render(&config, Format::Toml, true).map_err(|e| e.to_string())?;
    expect_eq!(
        load_str(&text, Format::Toml, None)
            .map_err(|e| e.to_string())?
            .config,
        config
    );
    let empty = Config::default();
    expect_eq!(empty.image(), None);
    let build = |text: &str| -> Result<usize, String> {
        Ok(load_str(text, Format::Toml, None)
            .map_err(|e| e.to_string())?
            .config
            .build
            .map(|b| b.strategy_count())
            .unwrap_or(0))
    };
    expect_eq!(build("app = \"x\"")?, 0);
    expect_eq!(build("[build]\nimage = \"i\"")?, 1);
    expect_eq!(
        build("[build]\nimage = \"i\"\nbuilder = \"b\"\nbuiltin = \"n\"\ndockerfile = \"D\"")?,
        4
    );
    let warned = common::toml(
        "[build]\nimage = \"i\"\ndockerfile = \"https://user:pw@example.com/Dockerfile?token=1\"",
    )
    .check();
    let text = warned
        .iter()
        .map(|d| d.message.clone())
        .collect::<Vec<_>>()
        .join("\n");
    expect!(
        text.contains("the \"https://example.com/Dockerfile\" dockerfile"),
        "{text}"
    );
    expect_eq!(
        common::toml("[http_service]\ninternal_port = 1\n[[services]]\ninternal_port = 2")
            .config
            .internal_port(),
        1
    );
    expect_eq!(
        common::toml("[[services]]\ninternal_port = 2")
            .config
            .internal_port(),
        2
    );
    expect_eq!(Config::default().internal_port(), 0);
    let original = common::toml("[env]\nA = \"1\"").config;
    let mut copy = original.clone();
    copy.set_env("A", "2");
    expect_eq!(original.env["A"], "1".to_string());
    Ok(())
}

fn definition_test_bullet() -> Outcome {
    let json = r#"{"app": "old", "kill_timeout": 5, "processes": [], "script_checks": [], "restart_limit": 0,
        "env": [{"A": "1"}, {"B": 2}],
        "checks": [{"name": "alive", "type": "tcp", "port": 80}],
        "services": [{"internal_port": 80, "protocol": "tcp", "ports": [{"port": 80}],
                      "tcp_checks": [{"interval": "15s", "timeout": "2s"}]}]}"#;
    let loaded = load_str(json, Format::Json, None).map_err(|e| e.to_string())?;
    let config = &loaded.config;
    expect_eq!(config.kill_timeout, secs(5));
    expect!(config.processes.is_empty(), "processes [] ignored");
    expect_eq!(config.env, map(&[("A", "1"), ("B", "2")]));
    expect_eq!(config.checks["alive"].port, Some(80));
    expect_eq!(config.services[0].tcp_checks[0].interval, secs(15));
    let dropped: Vec<&str> = loaded.diagnostics.iter().map(|d| d.key.as_str()).collect();
    expect!(
        dropped.contains(&"script_checks") && dropped.contains(&"restart_limit"),
        "obsolete keys reported: {dropped:?}"
    );
    let empty_checks =
        load_str(r#"{"checks": []}"#, Format::Json, None).map_err(|e| e.to_string())?;
    expect!(empty_checks.config.checks.is_empty(), "empty checks list");
    for (text, expected) in [
        ("kill_timeout = 20", 20),
        ("kill_timeout = 1.5", 1),
        ("kill_timeout = \"10s\"", 10),
    ] {
        expect_eq!(common::toml(text).config.kill_timeout, secs(expected));
    }
    Ok(())
}

fn strict_validate_bullet() -> Outcome {
    let unknown = |text: &str| -> Vec<(DiagnosticKind, String)> {
        common::toml(text)
            .diagnostics
            .into_iter()
            .filter(|d| d.is_unknown_key())
            .map(|d| (d.kind, d.key))
            .collect()
    };
    expect_eq!(
        unknown("[unknown_section]\na = 1"),
        vec![(
            DiagnosticKind::UnknownSection,
            "unknown_section".to_string()
        )]
    );
    expect_eq!(
        unknown("[build]\nunknown_key = 1"),
        vec![(DiagnosticKind::UnknownKey, "build.unknown_key".to_string())]
    );
    expect_eq!(
        unknown("[checks.health_check]\ntype = \"tcp\"\nport = 1\ninvalid_key = 1"),
        vec![(
            DiagnosticKind::UnknownKey,
            "checks.health_check.invalid_key".to_string()
        )]
    );
    let real_world = r#"
app = "real"
[http_machine]
  x = 1
[deploy]
  processes = ["app"]
[http_service]
  internal_port = 8080
  [http_service.concurrency]
    processes = ["app"]
  [http_service.http_options]
    xyz = true
  [[http_service.checks]]
    path = "/"
    processes = ["app"]
  [[http_service.machine_checks]]
    command = ["true"]
    grace_period = "1s"
    processes = ["app"]
[checks.my_check_bla]
  type = "tcp"
  port = 1
  invalid_key = 1
"#;
    let mut keys: Vec<String> = unknown(real_world).into_iter().map(|(_, k)| k).collect();
    keys.sort();
    expect_eq!(
        keys,
        strings(&[
            "checks.my_check_bla.invalid_key",
            "deploy.processes",
            "http_machine",
            "http_service.checks[0].processes",
            "http_service.concurrency.processes",
            "http_service.http_options.xyz",
            "http_service.machine_checks[0].grace_period",
            "http_service.machine_checks[0].processes",
        ])
    );
    Ok(())
}

fn platform_version_bullet() -> Outcome {
    let config = load("always-invalid-v2.toml")?.config;
    match config.to_machine_config("", None) {
        Err(err) => expect!(
            err.to_string()
                .contains("Unknown type for service concurrency"),
            "{err}"
        ),
        Ok(_) => return Err("stored parse error must be returned".into()),
    }
    Ok(())
}

fn from_machine_set_bullet() -> Outcome {
    use hangar_config::shell::quote;
    expect_eq!(quote("daemon off;"), "'daemon off;'".to_string());
    expect_eq!(quote("--six=seven"), "'--six=seven'".to_string());
    expect_eq!(quote("hi there"), "\"hi there\"".to_string());
    Ok(())
}

fn redaction_bullet() -> Outcome {
    let loaded = common::toml(
        "app = \"x\"\n[build]\nimage = \"i\"\ndockerfile = \"https://example.com/Dockerfile\"",
    );
    let diagnostics = loaded.check();
    expect!(
        !hangar_config::has_errors(&diagnostics),
        "two build strategies only warn: {diagnostics:?}"
    );
    expect!(
        diagnostics.iter().any(|d| d
            .message
            .contains("the \"https://example.com/Dockerfile\" dockerfile")),
        "{diagnostics:?}"
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------

fn table_checks() -> Vec<RowCheck> {
    vec![
        ("app-name.toml", app_name),
        ("build.toml", build_builder),
        ("image.toml", build_image),
        ("docker.toml", build_dockerfile),
        ("build-with-args.toml", build_args),
        ("compose.toml", compose_explicit),
        ("compose-autodetect.toml", compose_autodetect),
        ("services-emptysection.toml", services_empty_section),
        ("services-ports.toml", services_ports),
        ("services-multi.toml", services_multi),
        ("always-invalid-v2.toml", always_invalid),
        ("experimental-alt.toml", experimental_alt),
        ("mounts-array.toml", mounts_array),
        ("format-quirks.toml", format_quirks),
        ("env-list.toml", env_list),
        ("old-format.toml", old_format),
        ("old-processes.toml", old_processes),
        ("old-pg-checks.toml", old_pg_checks),
        ("full-reference.toml", full_reference),
        ("processes-one.toml", processes_one),
        ("processes-multi.toml", processes_multi),
        ("processes-multiwithapp.toml", processes_multi_with_app),
        ("processes-none.toml", processes_none),
        ("setters-service.toml", setters_service),
        ("setters-httpservice.toml", setters_http_service),
        ("setters-deploy.toml", setters_deploy),
        ("setters-experimental.toml", setters_experimental),
        ("setters-processes.toml", setters_processes),
        ("tomachine.toml", tomachine),
        ("tomachine-experimental.toml", tomachine_experimental),
        ("tomachine-processgroups.toml", tomachine_process_groups),
        (
            "tomachine-default-for-new-apps.toml",
            tomachine_default_for_new_apps,
        ),
        ("tomachine-mounts.toml", tomachine_mounts),
        ("tomachine-services.toml", tomachine_services),
        ("tomachine-compute.toml", tomachine_compute),
        (
            "tomachine-compute-nodefault.toml",
            tomachine_compute_nodefault,
        ),
        (
            "tomachine-hostdedicationid.toml",
            tomachine_host_dedication_id,
        ),
        ("tomachine-machinechecks.toml", tomachine_machine_checks),
        ("validate-groups.toml", validate_groups_row),
        ("validate-mounts.toml", validate_mounts_row),
        ("validate-services.toml", validate_services_row),
    ]
}

/// Bullet items of "Tests without testdata files", keyed by the text they start with.
fn bullet_checks() -> Vec<BulletCheck> {
    vec![
        ("serde/`config_test`", Some(config_test_bullet)),
        ("`definition_test`", Some(definition_test_bullet)),
        ("`strict_validate_test`", Some(strict_validate_bullet)),
        ("`platformversion_test`", Some(platform_version_bullet)),
        ("`from_machine_set_test`", Some(from_machine_set_bullet)),
        (
            "`validation_test TestConfigValidateRedactsMalformedDockerfileURL`",
            Some(redaction_bullet),
        ),
        // `fly scale count` convergence belongs to the deploy controller, not the config layer.
        ("`F internal/command/scale/count_machines_test.go`", None),
    ]
}

/// File names of the table rows of EXPECTATIONS.md, in order.
fn expectation_rows(text: &str) -> Vec<String> {
    text.lines()
        .filter(|line| line.starts_with("| `"))
        .filter_map(|line| line.split('`').nth(1).map(str::to_string))
        .filter(|name| name.ends_with(".toml"))
        .collect()
}

/// Bullet items of the "Tests without testdata files" list.
fn expectation_bullets(text: &str) -> Vec<String> {
    text.lines()
        .skip_while(|line| !line.starts_with("Tests without testdata files"))
        .filter(|line| line.starts_with("- "))
        .map(|line| line[2..].to_string())
        .collect()
}

#[test]
fn flyctl_appconfig_conformance() {
    let dir = conformance_dir();
    let expectations = dir.join("EXPECTATIONS.md");
    if !expectations.is_file() {
        eprintln!(
            "\n!!!!!!!! SKIPPED: flyctl conformance tier: {} is absent !!!!!!!!\n",
            dir.display()
        );
        println!("flyctl conformance: SKIPPED ({} not found)", dir.display());
        return;
    }
    let text = std::fs::read_to_string(&expectations).unwrap();
    let rows = expectation_rows(&text);
    let checks = table_checks();
    let mut failures = Vec::new();
    let mut passed = 0;
    for row in &rows {
        match checks.iter().find(|(name, _)| name == row) {
            None => failures.push(format!("{row}: no check implemented for this row")),
            Some((_, check)) => match check() {
                Ok(()) => passed += 1,
                Err(err) => failures.push(format!("{row}: {err}")),
            },
        }
    }
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".toml"))
        .collect();
    on_disk.sort();
    for file in on_disk.iter().filter(|f| !rows.contains(f)) {
        failures.push(format!(
            "{file}: present in the folder but has no EXPECTATIONS.md row"
        ));
    }

    let bullets = expectation_bullets(&text);
    let bullet_table = bullet_checks();
    let (mut bullets_passed, mut bullets_applicable) = (0, 0);
    for bullet in &bullets {
        match bullet_table
            .iter()
            .find(|(prefix, _)| bullet.starts_with(prefix))
        {
            None => failures.push(format!("bullet {bullet:.60}: no check implemented")),
            Some((_, None)) => println!("not applicable to the config layer: {bullet:.70}"),
            Some((prefix, Some(check))) => {
                bullets_applicable += 1;
                match check() {
                    Ok(()) => bullets_passed += 1,
                    Err(err) => failures.push(format!("{prefix}: {err}")),
                }
            }
        }
    }
    println!(
        "flyctl conformance: {passed}/{} expectations passed",
        rows.len()
    );
    println!(
        "flyctl conformance (tests without testdata): {bullets_passed}/{bullets_applicable} passed"
    );
    for failure in &failures {
        println!("FAILED {failure}");
    }
    assert!(
        failures.is_empty(),
        "{} conformance failure(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}
