//! Start latency of isolated machines, printed for the benchmark notes and
//! bounded generously (a regression guard, not a benchmark).

mod common;

use std::time::{Duration, Instant};

use common::{network, start};
use hangar_driver::conformance::base_spec;
use hangar_driver::Driver;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_to_running_latency() {
    if common::skip_unless_root_with_busybox("start_to_running_latency") {
        return;
    }
    let fixture = common::busybox_image();
    let driver = common::driver(&fixture);
    for with_network in [false, true] {
        let mut samples = Vec::new();
        for i in 0..15u8 {
            let mut spec = base_spec(&fixture.image, &["/bin/sh", "-c", "echo up"]);
            if with_network {
                spec.network = Some(network(100 + i));
            }
            let began = Instant::now();
            let mut machine = start(&driver, &spec).await;
            machine.wait_line("up").await;
            samples.push(began.elapsed());
            machine.wait_exit().await;
            driver.cleanup(&machine.handle).await.expect("cleanup");
        }
        samples.sort();
        let (p50, p90) = (percentile(&samples, 0.5), percentile(&samples, 0.9));
        eprintln!("start → first output (network: {with_network}): p50 {p50:?}, p90 {p90:?}");
        assert!(
            p50 < Duration::from_secs(2),
            "starting a machine takes {p50:?} (p50)"
        );
    }
}
