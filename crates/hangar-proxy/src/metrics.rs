//! Request counters, latency histograms and autostart counts, rendered as
//! Prometheus text.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds (seconds) of the latency histogram buckets.
const LATENCY_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

#[derive(Debug, Default, Clone)]
struct Histogram {
    buckets: [u64; LATENCY_BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        for (bucket, bound) in self.buckets.iter_mut().zip(LATENCY_BUCKETS) {
            if seconds <= bound {
                *bucket += 1;
            }
        }
        self.count += 1;
        self.sum += seconds;
    }
}

#[derive(Debug, Default)]
struct Counters {
    /// app → machine or "" → count per status class (index 2 is `2xx`).
    /// Nested so that a request already seen is counted without allocating.
    requests: BTreeMap<String, BTreeMap<String, [u64; 10]>>,
    /// app → request latency.
    latency: BTreeMap<String, Histogram>,
    /// (app, machine) → autostarts issued.
    autostarts: BTreeMap<(String, String), u64>,
    /// app → time from autostart to the Machine being started.
    autostart_latency: BTreeMap<String, Histogram>,
    /// (app, machine) → autostops issued.
    autostops: BTreeMap<(String, String), u64>,
    /// (app, machine) → refused or failed upstream connections.
    connect_failures: BTreeMap<(String, String), u64>,
    /// (app, machine or "") → raw TCP connections accepted.
    tcp_connections: BTreeMap<(String, String), u64>,
}

/// Every metric of one proxy.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    counters: Mutex<Counters>,
}

/// The index of a status class in a per-class array: 2 for `2xx`.
fn status_class_index(status: u16) -> usize {
    usize::from(status / 100).min(9)
}

/// A map's entry for `key`, allocating the key only when it is new.
fn entry<'m, V: Default>(map: &'m mut BTreeMap<String, V>, key: &str) -> &'m mut V {
    if !map.contains_key(key) {
        map.insert(key.to_string(), V::default());
    }
    map.get_mut(key).expect("inserted above")
}

fn escape(label: &str) -> String {
    label
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl Metrics {
    /// Records a finished request; `machine` is empty when the proxy answered.
    pub(crate) fn request(&self, app: &str, machine: &str, status: u16, elapsed: Duration) {
        let mut c = self.counters.lock().unwrap();
        entry(entry(&mut c.requests, app), machine)[status_class_index(status)] += 1;
        entry(&mut c.latency, app).observe(elapsed.as_secs_f64());
    }

    pub(crate) fn autostart(&self, app: &str, machine: &str, elapsed: Duration) {
        let mut c = self.counters.lock().unwrap();
        *c.autostarts
            .entry((app.to_string(), machine.to_string()))
            .or_default() += 1;
        c.autostart_latency
            .entry(app.to_string())
            .or_default()
            .observe(elapsed.as_secs_f64());
    }

    /// Records a raw TCP connection; `machine` is empty when no Machine
    /// could take it.
    pub(crate) fn tcp_connection(&self, app: &str, machine: &str) {
        let mut c = self.counters.lock().unwrap();
        *c.tcp_connections
            .entry((app.to_string(), machine.to_string()))
            .or_default() += 1;
    }

    pub(crate) fn connect_failure(&self, app: &str, machine: &str) {
        let mut c = self.counters.lock().unwrap();
        *c.connect_failures
            .entry((app.to_string(), machine.to_string()))
            .or_default() += 1;
    }

    pub(crate) fn autostop(&self, app: &str, machine: &str) {
        let mut c = self.counters.lock().unwrap();
        *c.autostops
            .entry((app.to_string(), machine.to_string()))
            .or_default() += 1;
    }

    /// Prometheus text exposition; `in_flight` lists (app, machine, count).
    pub(crate) fn render(&self, in_flight: &[(String, String, usize)]) -> String {
        let c = self.counters.lock().unwrap();
        let mut out = String::new();
        out.push_str("# HELP hangar_proxy_requests_total Requests answered, by app, Machine and status class.\n");
        out.push_str("# TYPE hangar_proxy_requests_total counter\n");
        for (app, machines) in &c.requests {
            for (machine, classes) in machines {
                for (class, n) in classes.iter().enumerate().filter(|(_, n)| **n > 0) {
                    let _ = writeln!(
                        out,
                        "hangar_proxy_requests_total{{app=\"{}\",machine=\"{}\",status=\"{}xx\"}} {n}",
                        escape(app),
                        escape(machine),
                        class
                    );
                }
            }
        }
        out.push_str("# HELP hangar_proxy_in_flight Requests in flight per Machine.\n");
        out.push_str("# TYPE hangar_proxy_in_flight gauge\n");
        for (app, machine, n) in in_flight {
            let _ = writeln!(
                out,
                "hangar_proxy_in_flight{{app=\"{}\",machine=\"{}\"}} {n}",
                escape(app),
                escape(machine)
            );
        }
        render_histograms(
            &mut out,
            "hangar_proxy_request_duration_seconds",
            "Time from request to response head, by app.",
            &c.latency,
        );
        out.push_str("# HELP hangar_proxy_autostarts_total Machines started for requests.\n");
        out.push_str("# TYPE hangar_proxy_autostarts_total counter\n");
        for ((app, machine), n) in &c.autostarts {
            let _ = writeln!(
                out,
                "hangar_proxy_autostarts_total{{app=\"{}\",machine=\"{}\"}} {n}",
                escape(app),
                escape(machine)
            );
        }
        render_histograms(
            &mut out,
            "hangar_proxy_autostart_duration_seconds",
            "Time an autostart took, by app.",
            &c.autostart_latency,
        );
        out.push_str(
            "# HELP hangar_proxy_connect_failures_total Connections to Machines that failed.\n",
        );
        out.push_str("# TYPE hangar_proxy_connect_failures_total counter\n");
        for ((app, machine), n) in &c.connect_failures {
            let _ = writeln!(
                out,
                "hangar_proxy_connect_failures_total{{app=\"{}\",machine=\"{}\"}} {n}",
                escape(app),
                escape(machine)
            );
        }
        out.push_str(
            "# HELP hangar_proxy_tcp_connections_total Raw TCP connections, by the Machine that took them.\n",
        );
        out.push_str("# TYPE hangar_proxy_tcp_connections_total counter\n");
        for ((app, machine), n) in &c.tcp_connections {
            let _ = writeln!(
                out,
                "hangar_proxy_tcp_connections_total{{app=\"{}\",machine=\"{}\"}} {n}",
                escape(app),
                escape(machine)
            );
        }
        out.push_str("# HELP hangar_proxy_autostops_total Idle Machines stopped or suspended.\n");
        out.push_str("# TYPE hangar_proxy_autostops_total counter\n");
        for ((app, machine), n) in &c.autostops {
            let _ = writeln!(
                out,
                "hangar_proxy_autostops_total{{app=\"{}\",machine=\"{}\"}} {n}",
                escape(app),
                escape(machine)
            );
        }
        out
    }
}

fn render_histograms(
    out: &mut String,
    name: &str,
    help: &str,
    histograms: &BTreeMap<String, Histogram>,
) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} histogram");
    for (app, h) in histograms {
        let app = escape(app);
        for (bound, n) in LATENCY_BUCKETS.iter().zip(h.buckets) {
            let _ = writeln!(out, "{name}_bucket{{app=\"{app}\",le=\"{bound}\"}} {n}");
        }
        let _ = writeln!(
            out,
            "{name}_bucket{{app=\"{app}\",le=\"+Inf\"}} {}",
            h.count
        );
        let _ = writeln!(out, "{name}_sum{{app=\"{app}\"}} {}", h.sum);
        let _ = writeln!(out, "{name}_count{{app=\"{app}\"}} {}", h.count);
    }
}
