//! The proxy scenario as Markdown: one table at saturation, one at half
//! load, each with the latency a proxy adds over the direct connection and
//! the proxy's CPU time per request.

use std::fmt::Write as _;
use std::time::Duration;

use crate::cpu_time::CpuPerRequest;
use crate::load::LoadResult;
use crate::scenarios::proxy::{ProxyRun, TargetRun};

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Appends the proxy tables to `out`.
pub fn proxy_markdown(out: &mut String, run: &ProxyRun) {
    let Some(options) = &run.options else { return };
    let _ = writeln!(
        out,
        "### Edge proxy: the example app directly and behind each proxy\n\n\
         Saturation: `wrk -t{} -c{} -d{}s --latency` (closed loop, after an unrecorded 1 s warm-up). \
         Half load: the open-loop generator at a fixed {:.0} requests/s (half of {}'s saturation rate: the slowest proxy's) \
         over {} connections for {} s, latency from each request's due time. \
         Added = the row's latency minus `direct`'s. \
         Proxy CPU µs/request = user + system CPU time of the proxy alone over the run (from /proc, \
         read before and after it; saturation: its warm-up included, and the warm-up's requests with it) \
         divided by the requests the load generator counted.\n",
        options.wrk_threads,
        options.connections,
        options.duration.as_secs(),
        run.half_rate,
        run.half_rate_of,
        options.connections,
        options.duration.as_secs(),
    );
    let direct = run.targets.iter().find(|t| t.name == "direct");
    table(
        out,
        "saturation",
        run,
        direct.and_then(|d| d.saturation),
        |t| t.saturation,
        |t| t.saturation_cpu,
    );
    table(
        out,
        "half load",
        run,
        direct.and_then(|d| d.half_load),
        |t| t.half_load,
        |t| t.half_load_cpu,
    );
    let _ = writeln!(out, "| target | setup |\n|---|---|");
    for t in &run.targets {
        match t.lifetime_cpu {
            Some(cpu) => {
                let seconds = cpu.as_secs_f64();
                let _ = writeln!(
                    out,
                    "| {} | {}; {seconds:.2} s CPU from its start until it was stopped |",
                    t.name, t.note
                );
            }
            None => {
                let _ = writeln!(out, "| {} | {} |", t.name, t.note);
            }
        }
    }
    out.push('\n');
    if !run.failures.is_empty() {
        let _ = writeln!(out, "Proxy scenario failures:\n");
        for f in &run.failures {
            let _ = writeln!(out, "- {}", f.replace('\n', " "));
        }
        out.push('\n');
    }
}

fn table(
    out: &mut String,
    title: &str,
    run: &ProxyRun,
    direct: Option<LoadResult>,
    pick: impl Fn(&TargetRun) -> Option<LoadResult>,
    pick_cpu: impl Fn(&TargetRun) -> Option<CpuPerRequest>,
) {
    let _ = writeln!(
        out,
        "| {title} | requests/s | p50 ms | p99 ms | added p50 ms | added p99 ms | requests | errors | proxy CPU µs/request |"
    );
    out.push_str("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for target in &run.targets {
        let Some(r) = pick(target) else {
            let _ = writeln!(
                out,
                "| {} | – | – | – | – | – | – | failed | – |",
                target.name
            );
            continue;
        };
        let added = |mine: Duration, base: fn(&LoadResult) -> Duration| match direct {
            Some(d) if target.name != "direct" => format!("{:+.3}", ms(mine) - ms(base(&d))),
            _ => "–".into(),
        };
        let _ = writeln!(
            out,
            "| {} | {:.0} | {:.3} | {:.3} | {} | {} | {} | {} | {} |",
            target.name,
            r.requests_per_sec,
            ms(r.p50),
            ms(r.p99),
            added(r.p50, |d| d.p50),
            added(r.p99, |d| d.p99),
            r.requests,
            r.errors,
            cpu_per_request(pick_cpu(target))
        );
    }
    out.push('\n');
}

/// `12.3`, or `–` for `direct` and when the CPU time could not be read.
fn cpu_per_request(cpu: Option<CpuPerRequest>) -> String {
    cpu.and_then(|c| c.micros_per_request())
        .map_or_else(|| "–".into(), |micros| format!("{micros:.1}"))
}
