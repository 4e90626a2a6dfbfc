//! Decoding of `[http_service]`, `[[services]]` and their nested tables.

use std::collections::BTreeMap;

use super::root::decode_auto_stop;
use super::{join, BareNumber, Decoder};
use crate::model::{
    Concurrency, HeaderValue, HttpOptions, HttpResponseOptions, HttpService, MachineCheck, Port,
    ProxyProtoOptions, ReplayCache, Service, ServiceHttpCheck, ServiceTcpCheck, TlsOptions,
};
use crate::tree::{Node, Value};

pub(super) fn decode_http_service(
    d: &mut Decoder<'_>,
    node: &Node,
    path: &str,
) -> Option<HttpService> {
    let mut t = d.table(node, path)?;
    let service = HttpService {
        internal_port: t.port(d, "internal_port"),
        force_https: t.bool(d, "force_https"),
        auto_stop_machines: t.section(d, "auto_stop_machines", decode_auto_stop),
        auto_start_machines: t.bool(d, "auto_start_machines"),
        min_machines_running: t.int(d, "min_machines_running"),
        processes: t.strings(d, "processes"),
        concurrency: t.section(d, "concurrency", decode_concurrency),
        tls_options: t.section(d, "tls_options", decode_tls_options),
        http_options: t.section(d, "http_options", decode_http_options),
        checks: t.list(d, "checks", decode_http_check),
        machine_checks: t.list(d, "machine_checks", decode_machine_check),
    };
    t.finish(d, false);
    Some(service)
}

pub(super) fn decode_service(d: &mut Decoder<'_>, node: &Node, path: &str) -> Option<Service> {
    let mut t = d.table(node, path)?;
    let service = Service {
        protocol: t.string(d, "protocol"),
        internal_port: t.port(d, "internal_port"),
        auto_stop_machines: t.section(d, "auto_stop_machines", decode_auto_stop),
        auto_start_machines: t.bool(d, "auto_start_machines"),
        min_machines_running: t.int(d, "min_machines_running"),
        ports: t.list(d, "ports", decode_port),
        concurrency: t.section(d, "concurrency", decode_concurrency),
        tcp_checks: t.list(d, "tcp_checks", decode_tcp_check),
        http_checks: t.list(d, "http_checks", decode_http_check),
        machine_checks: t.list(d, "machine_checks", decode_machine_check),
        processes: t.strings(d, "processes"),
    };
    t.finish(d, false);
    Some(service)
}

fn decode_concurrency(d: &mut Decoder<'_>, node: &Node, path: &str) -> Option<Concurrency> {
    let mut t = d.table(node, path)?;
    let concurrency = Concurrency {
        kind: t.string(d, "type"),
        hard_limit: t.port(d, "hard_limit"),
        soft_limit: t.port(d, "soft_limit"),
    };
    t.finish(d, false);
    Some(concurrency)
}

fn decode_port(d: &mut Decoder<'_>, node: &Node, path: &str) -> Option<Port> {
    let mut t = d.table(node, path)?;
    let port = Port {
        port: t.port(d, "port"),
        start_port: t.port(d, "start_port"),
        end_port: t.port(d, "end_port"),
        handlers: t.strings(d, "handlers"),
        force_https: t.bool(d, "force_https"),
        tls_options: t.section(d, "tls_options", decode_tls_options),
        http_options: t.section(d, "http_options", decode_http_options),
        proxy_proto_options: t.section(d, "proxy_proto_options", |d, node, path| {
            let mut t = d.table(node, path)?;
            let options = ProxyProtoOptions {
                version: t.string(d, "version"),
            };
            t.finish(d, false);
            Some(options)
        }),
    };
    t.finish(d, false);
    Some(port)
}

fn decode_tls_options(d: &mut Decoder<'_>, node: &Node, path: &str) -> Option<TlsOptions> {
    let mut t = d.table(node, path)?;
    let options = TlsOptions {
        alpn: t.strings(d, "alpn"),
        versions: t.strings(d, "versions"),
        default_self_signed: t.bool(d, "default_self_signed"),
    };
    t.finish(d, false);
    Some(options)
}

fn decode_http_options(d: &mut Decoder<'_>, node: &Node, path: &str) -> Option<HttpOptions> {
    let mut t = d.table(node, path)?;
    let options = HttpOptions {
        compress: t.bool(d, "compress"),
        h2_backend: t.bool(d, "h2_backend"),
        idle_timeout: t.int(d, "idle_timeout"),
        headers_read_timeout: t.int(d, "headers_read_timeout"),
        response: t.section(d, "response", decode_response_options),
        replay_cache: t.list(d, "replay_cache", decode_replay_cache),
    };
    t.finish(d, false);
    Some(options)
}

fn decode_response_options(
    d: &mut Decoder<'_>,
    node: &Node,
    path: &str,
) -> Option<HttpResponseOptions> {
    let mut t = d.table(node, path)?;
    let headers = t
        .section(d, "headers", |d, node, path| {
            let mut fields = d.table(node, path)?;
            let mut headers = BTreeMap::new();
            for (name, value) in fields.all(d) {
                let header_path = join(path, &name);
                let decoded = match &value.value {
                    Value::Bool(flag) => Some(HeaderValue::Flag(*flag)),
                    Value::Str(text) => Some(HeaderValue::Text(text.clone())),
                    Value::Array(_) => Some(HeaderValue::List(d.strings(value, &header_path))),
                    _ => {
                        d.wrong_type(
                            value,
                            &header_path,
                            "false, a string or an array of strings",
                        );
                        None
                    }
                };
                if let Some(decoded) = decoded {
                    headers.insert(name, decoded);
                }
            }
            Some(headers)
        })
        .unwrap_or_default();
    let options = HttpResponseOptions {
        headers,
        pristine: t.bool(d, "pristine"),
    };
    t.finish(d, false);
    Some(options)
}

fn decode_replay_cache(d: &mut Decoder<'_>, node: &Node, path: &str) -> Option<ReplayCache> {
    let mut t = d.table(node, path)?;
    let cache = ReplayCache {
        path_prefix: t.string(d, "path_prefix"),
        ttl_seconds: t.int(d, "ttl_seconds"),
        kind: t.string(d, "type"),
        name: t.string(d, "name"),
        allow_bypass: t.bool(d, "allow_bypass"),
    };
    t.finish(d, false);
    Some(cache)
}

fn decode_tcp_check(d: &mut Decoder<'_>, node: &Node, path: &str) -> Option<ServiceTcpCheck> {
    let mut t = d.table(node, path)?;
    let check = ServiceTcpCheck {
        interval: t.duration(d, "interval", BareNumber::Millis),
        timeout: t.duration(d, "timeout", BareNumber::Millis),
        grace_period: t.duration(d, "grace_period", BareNumber::Millis),
    };
    t.finish(d, false);
    Some(check)
}

fn decode_http_check(d: &mut Decoder<'_>, node: &Node, path: &str) -> Option<ServiceHttpCheck> {
    let mut t = d.table(node, path)?;
    let check = ServiceHttpCheck {
        interval: t.duration(d, "interval", BareNumber::Millis),
        timeout: t.duration(d, "timeout", BareNumber::Millis),
        grace_period: t.duration(d, "grace_period", BareNumber::Millis),
        method: t.string(d, "method"),
        path: t.string(d, "path"),
        protocol: t.string(d, "protocol"),
        tls_skip_verify: t.bool(d, "tls_skip_verify"),
        tls_server_name: t.string(d, "tls_server_name"),
        headers: t.string_map(d, "headers"),
    };
    t.finish(d, false);
    Some(check)
}

pub(super) fn decode_machine_check(
    d: &mut Decoder<'_>,
    node: &Node,
    path: &str,
) -> Option<MachineCheck> {
    let mut t = d.table(node, path)?;
    let check = MachineCheck {
        command: t.strings(d, "command"),
        image: t.string(d, "image"),
        entrypoint: t.strings(d, "entrypoint"),
        kill_signal: t.string(d, "kill_signal"),
        kill_timeout: t.duration(d, "kill_timeout", BareNumber::Rejected),
    };
    t.finish(d, false);
    Some(check)
}
