//! A deterministic mutation fuzzer for the loader (no libFuzzer needed, so it runs in every
//! `cargo test`). Seeds are the project's fixtures, the flyctl conformance inputs when present,
//! and hand-written adversarial inputs; each mutant goes through the whole pipeline (load,
//! validate, convert every group, render, reload) and must neither panic nor take long.
//!
//! `HANGAR_FUZZ_ITERATIONS=<n>` runs longer (default 4000); `HANGAR_FUZZ_SEED=<n>` changes the
//! sequence. A panicking input is written to `target/fuzz-crash-<seed>-<iteration>` for replay.

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use hangar_config::{load_str, render, Format};

/// Longest one input may take through the pipeline (debug build, shared 2-core machine).
const PER_INPUT_BUDGET: Duration = Duration::from_secs(3);

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const TOKENS: &[&str] = &[
    "[",
    "]",
    "[[",
    "]]",
    "{",
    "}",
    "\"",
    "'",
    "=",
    ",",
    "\n",
    ".",
    "-",
    "#",
    ":",
    "*",
    "&a ",
    "\\",
    "processes = [\"app\"]",
    "processes = [\"ghost\"]",
    "[processes]\napp = \"x\"\n",
    "[[vm]]\n",
    "size = \"performance-16x\"",
    "memory = \"0\"",
    "memory = 99999999999999999999",
    "interval = 1e400",
    "kill_timeout = -9223372036854775808",
    "timeout = \"9999999999h\"",
    "[[services]]\n",
    "[http_service]\n",
    "internal_port = \"x\"",
    "concurrency = 1",
    "concurrency = \"1,2,3\"",
    "[[mounts]]\n",
    "initial_size = \"1.2.3gb\"",
    "[checks.c]\n",
    "type = \"http\"",
    "headers = [{name=1}]",
    "[[env]]\n",
    "[regions.app]\n",
    "ord = -1",
    "[auto_stop_machines]\nenabled = 3\n",
    "local_path = \"/dev/zero\"",
    "machine_config = \"/dev/zero\"",
    "machine_config = '{\"dns\": 1}'",
    "1.5",
    "true",
    "null",
    "~",
    "[]",
    "{}",
    "\u{feff}",
    "\u{00e9}",
    "\u{10ffff}",
    "\0",
];

fn mutate(rng: &mut Rng, seed: &[u8], other: &[u8]) -> Vec<u8> {
    let mut data = seed.to_vec();
    for _ in 0..=rng.below(4) {
        let at = rng.below(data.len() + 1);
        match rng.below(6) {
            0 if !data.is_empty() => {
                let i = rng.below(data.len());
                data[i] ^= 1 << rng.below(8);
            }
            1 => {
                let token = TOKENS[rng.below(TOKENS.len())].as_bytes();
                data.splice(at..at, token.iter().copied());
            }
            2 if !data.is_empty() => {
                let end = (at + rng.below(32)).min(data.len());
                data.drain(at.min(end)..end);
            }
            3 if !data.is_empty() => {
                let start = rng.below(data.len());
                let end = (start + rng.below(64)).min(data.len());
                let chunk: Vec<u8> = data[start..end].to_vec();
                data.splice(at..at, chunk);
            }
            4 if !other.is_empty() => {
                let start = rng.below(other.len());
                let end = (start + rng.below(128)).min(other.len());
                data.splice(at..at, other[start..end].iter().copied());
            }
            _ => data.truncate(at),
        }
    }
    data
}

/// Runs the whole pipeline on one input.
fn exercise(text: &str, format: Format) {
    let Ok(loaded) = load_str(text, format, Some(Path::new("/nonexistent/fuzz/fly.toml"))) else {
        return;
    };
    let _ = loaded.check();
    let config = &loaded.config;
    for group in config.process_names().iter().take(16) {
        let _ = config.to_machine_config(group, None);
    }
    let _ = config.to_release_machine_config();
    let _ = config.to_console_machine_config();
    for out in [Format::Toml, Format::Json, Format::Yaml] {
        if let Ok(rendered) = render(config, out, true) {
            let _ = load_str(&rendered, out, None);
        }
    }
}

fn seeds() -> Vec<(Vec<u8>, Format)> {
    let mut files = Vec::new();
    collect(&common::fixtures_dir(), &mut files);
    collect(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance/flyctl-appconfig"),
        &mut files,
    );
    let mut seeds: Vec<(Vec<u8>, Format)> = files
        .iter()
        .map(|p| (std::fs::read(p).unwrap(), Format::from_path(p)))
        .collect();
    let deep = "a = ".to_string() + &"[".repeat(5000) + &"]".repeat(5000);
    let deep_json = "[".repeat(5000) + &"]".repeat(5000);
    let mut alias_bomb =
        String::from("a: &a [\"x\",\"x\",\"x\",\"x\",\"x\",\"x\",\"x\",\"x\",\"x\"]\n");
    for level in 1..12 {
        let previous = (b'a' + level - 1) as char;
        let current = (b'a' + level) as char;
        alias_bomb += &format!("{current}: &{current} [*{previous},*{previous},*{previous},*{previous},*{previous},*{previous},*{previous},*{previous},*{previous}]\n");
    }
    let many_groups: String = (0..2000).map(|i| format!("g{i} = \"run\"\n")).collect();
    seeds.push((deep.into_bytes(), Format::Toml));
    seeds.push((deep_json.into_bytes(), Format::Json));
    seeds.push((alias_bomb.into_bytes(), Format::Yaml));
    seeds.push((
        format!("[processes]\n{many_groups}").into_bytes(),
        Format::Toml,
    ));
    seeds
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            collect(&path, out);
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("toml" | "json" | "yaml" | "yml")
        ) {
            out.push(path);
        }
    }
}

#[test]
fn loader_survives_mutated_inputs() {
    let iterations: usize = std::env::var("HANGAR_FUZZ_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4000);
    let seed: u64 = std::env::var("HANGAR_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5eed_f1a7);
    let corpus = seeds();
    // Every seed itself first, then mutants.
    for (data, format) in &corpus {
        let started = Instant::now();
        exercise(&String::from_utf8_lossy(data), *format);
        assert!(
            started.elapsed() < PER_INPUT_BUDGET,
            "a seed took {:?}",
            started.elapsed()
        );
    }
    let mut rng = Rng(seed | 1);
    let started_all = Instant::now();
    let mut slowest = Duration::ZERO;
    for iteration in 0..iterations {
        let (base, format) = &corpus[rng.below(corpus.len())];
        let (other, _) = &corpus[rng.below(corpus.len())];
        let mutant = mutate(&mut rng, base, other);
        let text = String::from_utf8_lossy(&mutant).into_owned();
        let format = if rng.below(8) == 0 {
            [Format::Toml, Format::Json, Format::Yaml][rng.below(3)]
        } else {
            *format
        };
        let started = Instant::now();
        let outcome = catch_unwind(AssertUnwindSafe(|| exercise(&text, format)));
        let elapsed = started.elapsed();
        slowest = slowest.max(elapsed);
        if outcome.is_err() || elapsed > PER_INPUT_BUDGET {
            let crash = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../target")
                .join(format!("fuzz-crash-{seed}-{iteration}"));
            let _ = std::fs::write(&crash, &mutant);
            panic!(
                "iteration {iteration} ({format:?}) {} after {elapsed:?}; input saved to {}",
                if outcome.is_err() {
                    "panicked"
                } else {
                    "was too slow"
                },
                crash.display()
            );
        }
    }
    println!(
        "fuzz: {iterations} mutants of {} seeds in {:?}, slowest {:?}, no panic",
        corpus.len(),
        started_all.elapsed(),
        slowest
    );
}
