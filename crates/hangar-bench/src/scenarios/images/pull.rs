//! Pull-and-start of a ~100 MB image: busybox httpd plus incompressible
//! layers of seeded pseudo-random data, pushed to the built-in registry;
//! a Machine created from it on an agent that has never seen its layers
//! (the benchmark's fresh data directory), then again with the layers
//! present.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use hangar_image::layout::{LayerBlob, LayoutWriter};
use hangar_image::ImageConfig;

use super::registry;
use super::secs;
use crate::error::BenchError;
use crate::platform::{http_addr, BenchPlatform};
use crate::probe::wait_http;

/// Random-data layers beside the busybox layer.
const RANDOM_LAYERS: u64 = 4;
/// Bytes of each random layer (4 × 25 MiB ≈ 100 MiB).
const LAYER_BYTES: u64 = 25 << 20;
/// How long a started Machine may take to answer HTTP.
const HTTP_TIMEOUT: Duration = Duration::from_secs(120);

/// Builds and pushes the image, then measures one pull-and-start on the
/// fresh agent and `warm` more with the layers present; returns the
/// Markdown section.
pub async fn run(platform: &BenchPlatform, work: &Path, warm: usize) -> String {
    let dir = work.join("pull-bench");
    let mut out = String::from("### Pulls: a ~100 MB image, pull → Machine serving HTTP\n\n");
    let result = measure(platform, &dir, warm, &mut out).await;
    let _ = std::fs::remove_dir_all(&dir);
    if let Err(e) = result {
        eprintln!("pull: failed: {e}");
        let _ = writeln!(out, "- failed: {}\n", e.to_string().replace('\n', " "));
    }
    out
}

async fn measure(
    platform: &BenchPlatform,
    dir: &Path,
    warm: usize,
    out: &mut String,
) -> Result<(), BenchError> {
    eprintln!("pull: generating the image");
    let layout = dir.join("layout");
    let layers = write_image(&platform.rootfs, dir, &layout)?;
    let size: u64 = layers.iter().map(|l| l.size).sum();
    let (image, push) = registry::push(platform, &layout, "bench/big", "v1").await?;
    let _ = writeln!(
        out,
        "Image: {} layers, {:.1} MiB compressed (busybox + {RANDOM_LAYERS} × {} MiB of seeded random data); push {} s.\n",
        layers.len(),
        size as f64 / (1 << 20) as f64,
        LAYER_BYTES >> 20,
        secs(push)
    );
    out.push_str("| layers on the agent | n | create → HTTP s (each) |\n|---|---:|---|\n");
    eprintln!("pull: fresh agent");
    let cold = pull_and_start(platform, &image).await?;
    let _ = writeln!(out, "| none (fresh agent) | 1 | {} |", secs(cold));
    let mut warm_times = Vec::new();
    for i in 1..=warm.max(1) {
        eprintln!("pull: layers present, run {i}");
        warm_times.push(secs(pull_and_start(platform, &image).await?));
    }
    let _ = writeln!(
        out,
        "| all present | {} | {} |\n",
        warm_times.len(),
        warm_times.join(", ")
    );
    Ok(())
}

/// Creates a Machine from `image`, waits until it answers HTTP, destroys it;
/// returns create request → first HTTP answer.
async fn pull_and_start(platform: &BenchPlatform, image: &str) -> Result<Duration, BenchError> {
    let mut config = BenchPlatform::config(&platform.http_image, 64);
    config.image = image.to_string();
    let started = Instant::now();
    let machine = platform.create_started(config).await?;
    let result = match http_addr(&machine) {
        Some(addr) => wait_http(addr, HTTP_TIMEOUT)
            .await
            .map(|()| started.elapsed()),
        None => Err(BenchError::Step {
            step: format!("machine {}", machine.id),
            detail: "has no private IPv4 address".into(),
        }),
    };
    platform.destroy(&machine.id).await?;
    result
}

/// Writes the OCI layout: the busybox httpd root filesystem, then the
/// random layers. Returns the layers.
fn write_image(rootfs: &Path, dir: &Path, layout: &Path) -> Result<Vec<LayerBlob>, BenchError> {
    let writer = LayoutWriter::create(layout).map_err(BenchError::step("create the layout"))?;
    let mut layers = vec![writer
        .add_layer_from_directory(rootfs)
        .map_err(BenchError::step("busybox layer"))?];
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    for n in 0..RANDOM_LAYERS {
        let layer_dir = dir.join(format!("layer-{n}"));
        let file = layer_dir.join("payload").join(format!("part-{n}.bin"));
        write_random(&file, &mut rng).map_err(|source| BenchError::Io {
            path: file.display().to_string(),
            source,
        })?;
        layers.push(
            writer
                .add_layer_from_directory(&layer_dir)
                .map_err(BenchError::step(format!("random layer {n}")))?,
        );
        let _ = std::fs::remove_dir_all(&layer_dir);
    }
    let config = ImageConfig {
        env: vec!["PATH=/bin".into()],
        cmd: ["/bin/httpd", "-f", "-p", "8080", "-h", "/www"]
            .map(String::from)
            .to_vec(),
        exposed_ports: vec!["8080/tcp".into()],
        ..Default::default()
    };
    writer
        .add_image(&layers, &config, "v1")
        .map_err(BenchError::step("write the image"))?;
    Ok(layers)
}

/// Writes `LAYER_BYTES` of the generator's output to `path`.
fn write_random(path: &Path, rng: &mut XorShift) -> std::io::Result<()> {
    std::fs::create_dir_all(path.parent().unwrap_or(Path::new("/")))?;
    let mut file = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut block = [0u8; 8192];
    for _ in 0..LAYER_BYTES / block.len() as u64 {
        for chunk in block.chunks_exact_mut(8) {
            chunk.copy_from_slice(&rng.next().to_le_bytes());
        }
        file.write_all(&block)?;
    }
    file.flush()
}

/// xorshift64*: deterministic, incompressible enough for gzip.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}
