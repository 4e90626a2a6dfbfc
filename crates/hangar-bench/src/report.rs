//! The results as Markdown: a latency table with Hangar and its peers side
//! by side, the density findings and the host the run was measured on.

use std::fmt::Write as _;

use crate::host::HostFacts;
use crate::scenarios::cold_start::ColdStart;
use crate::scenarios::density::Density;
use crate::scenarios::proxy::ProxyRun;
use crate::scenarios::{CreateStart, Cycles};
use crate::stats::{Samples, Summary};

/// One line of the latency table.
#[derive(Debug, Clone)]
pub struct LatencyRow {
    pub scenario: String,
    pub system: String,
    pub summary: Option<Summary>,
    pub note: String,
}

/// Everything a run measured.
#[derive(Debug, Default)]
pub struct Report {
    pub rows: Vec<LatencyRow>,
    pub density: Option<Density>,
    pub proxy: Option<ProxyRun>,
    /// The images scenarios' sections (builds, pulls), already Markdown.
    pub images: Vec<String>,
    /// Failures, each prefixed with the system it happened on.
    pub failures: Vec<String>,
}

impl Report {
    /// Adds a row of `samples` (skipped when there are none).
    pub fn add(&mut self, scenario: &str, system: &str, samples: &Samples, note: &str) {
        if samples.is_empty() {
            return;
        }
        self.rows.push(LatencyRow {
            scenario: scenario.into(),
            system: system.into(),
            summary: samples.summary(),
            note: note.into(),
        });
    }

    /// Adds the rows of a create+start run.
    pub fn add_create_start(&mut self, system: &str, run: CreateStart, started_note: &str) {
        self.add(
            "create+start → started",
            system,
            &run.to_started,
            started_note,
        );
        self.add("create+start → HTTP answers", system, &run.to_http, "");
        self.failures
            .extend(run.failures.into_iter().map(|f| format!("{system}: {f}")));
    }

    /// Adds the rows of a start/resume cycles run.
    pub fn add_cycles(&mut self, system: &str, run: Cycles, notes: [&str; 2]) {
        self.add("start from stopped → started", system, &run.start, notes[0]);
        self.add(
            "start from stopped → HTTP answers",
            system,
            &run.start_http,
            "",
        );
        self.add(
            "resume from suspended → started",
            system,
            &run.resume,
            notes[1],
        );
        self.add(
            "resume from suspended → HTTP answers",
            system,
            &run.resume_http,
            "",
        );
        self.failures
            .extend(run.failures.into_iter().map(|f| format!("{system}: {f}")));
    }

    /// Adds the rows of a cold-start-through-the-proxy run.
    pub fn add_cold_start(&mut self, run: ColdStart) {
        self.add(
            "stopped → first byte via proxy",
            "hangar",
            &run.from_stopped,
            "example app, autostart by the edge proxy",
        );
        self.add(
            "suspended → first byte via proxy",
            "hangar",
            &run.from_suspended,
            "example app, resume by the edge proxy",
        );
        self.failures.extend(
            run.failures
                .into_iter()
                .map(|f| format!("hangar cold start: {f}")),
        );
    }

    /// Adds the density findings; their failures join the others.
    pub fn set_density(&mut self, mut density: Density) {
        self.failures.extend(
            density
                .failures
                .drain(..)
                .map(|f| format!("hangar density: {f}")),
        );
        self.density = Some(density);
    }

    /// The whole report as Markdown.
    pub fn to_markdown(&self, host: &HostFacts, command: &str, load_after: &str) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "## Run of {}\n", host.date);
        let _ = writeln!(out, "Command: `{command}`\n");
        let _ = writeln!(
            out,
            "Host: {} × {}, {} MiB memory, kernel {}, hard nofile {}; load average {} at the start, {} at the end.\n",
            host.nproc, host.cpu_model, host.mem_total_mib, host.kernel, host.nofile_hard, host.loadavg, load_after
        );
        if !self.rows.is_empty() {
            out.push_str(
                "| scenario | system | n | mean ms | p50 ms | p99 ms | min ms | max ms | note |\n",
            );
            out.push_str("|---|---|---:|---:|---:|---:|---:|---:|---|\n");
            for row in &self.rows {
                if let Some(s) = row.summary {
                    let _ = writeln!(
                        out,
                        "| {} | {} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {} |",
                        row.scenario,
                        row.system,
                        s.count,
                        s.mean_ms,
                        s.p50_ms,
                        s.p99_ms,
                        s.min_ms,
                        s.max_ms,
                        row.note
                    );
                }
            }
            out.push('\n');
        }
        if let Some(run) = &self.proxy {
            crate::proxy_report::proxy_markdown(&mut out, run);
        }
        if let Some(d) = &self.density {
            density_markdown(&mut out, d);
        }
        for section in &self.images {
            out.push_str(section);
        }
        if !self.failures.is_empty() {
            let _ = writeln!(out, "Failures ({}):\n", self.failures.len());
            for f in self.failures.iter().take(30) {
                let _ = writeln!(out, "- {}", f.replace('\n', " "));
            }
            if self.failures.len() > 30 {
                let _ = writeln!(out, "- … and {} more", self.failures.len() - 30);
            }
            out.push('\n');
        }
        out
    }
}

fn density_markdown(out: &mut String, d: &Density) {
    let used_before = d.mem_before.used_mib();
    let used_peak = d.mem_at_peak.used_mib();
    let per_machine = if d.reached > 0 {
        (used_peak - used_before) / d.reached as f64
    } else {
        0.0
    };
    let _ = writeln!(
        out,
        "### Density (idle `sleep 1000000` Machines, guest memory {} MB)\n",
        d.memory_mb
    );
    let _ = writeln!(
        out,
        "- Reached **{} of {}** Machines in {:.1} s ({} still `started` at the end){}.",
        d.reached,
        d.target,
        d.elapsed.as_secs_f64(),
        d.still_started,
        d.stopped_by
            .as_deref()
            .map(|s| format!("; stopped by: {s}"))
            .unwrap_or_default()
    );
    let _ = writeln!(
        out,
        "- Host memory used (MemTotal − MemAvailable): {:.0} MiB before, {:.0} MiB with all Machines up (+{:.0} MiB, {:.2} MiB per Machine), {:.0} MiB after destroying them.",
        used_before,
        used_peak,
        used_peak - used_before,
        per_machine,
        d.mem_after_destroy.used_mib()
    );
    let _ = writeln!(
        out,
        "- Destroying all of them took {:.1} s.",
        d.destroy_elapsed.as_secs_f64()
    );
    if let Some(s) = d.create.summary() {
        let _ = writeln!(out, "- Create+start latency over the whole run: mean {:.1} ms, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms.", s.mean_ms, s.p50_ms, s.p99_ms, s.max_ms);
    }
    out.push_str("\n| machines | elapsed s | host mem used MiB | bridge ports | iptables rules | open fds (platform) | threads (platform) | host processes | machine cgroups rss / cache MiB | p50 create ms (last batch) |\n");
    out.push_str("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    let row = |out: &mut String,
               machines: usize,
               elapsed: f64,
               mem: f64,
               p: &crate::host::ResourceProbe,
               p50: String| {
        let _ = writeln!(
            out,
            "| {machines} | {elapsed:.1} | {mem:.0} | {} | {} | {} | {} | {} | {:.0} / {:.0} | {p50} |",
            p.bridge_ports,
            p.iptables_rules,
            p.open_fds,
            p.threads,
            p.host_processes,
            p.machines_rss_mib,
            p.machines_cache_mib
        );
    };
    row(out, 0, 0.0, used_before, &d.probe_before, "".into());
    for c in &d.checkpoints {
        let p50 = c
            .recent
            .summary()
            .map(|s| format!("{:.1}", s.p50_ms))
            .unwrap_or_default();
        row(
            out,
            c.machines,
            c.elapsed.as_secs_f64(),
            c.mem_used_mib,
            &c.probe,
            p50,
        );
    }
    row(
        out,
        0,
        d.elapsed.as_secs_f64() + d.destroy_elapsed.as_secs_f64(),
        d.mem_after_destroy.used_mib(),
        &d.probe_after_destroy,
        "(after destroy)".into(),
    );
    out.push('\n');
}
