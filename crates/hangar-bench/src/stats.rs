//! Latency samples and their summary (nearest-rank percentiles).

use std::time::Duration;

/// Latencies of one measured operation, in the order they were taken.
#[derive(Debug, Clone, Default)]
pub struct Samples {
    values: Vec<Duration>,
}

/// Count, mean and percentiles of a [`Samples`] set, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    pub count: usize,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub min_ms: f64,
    pub max_ms: f64,
}

impl Samples {
    /// Records one latency.
    pub fn push(&mut self, value: Duration) {
        self.values.push(value);
    }

    /// How many latencies were recorded.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Summarises the samples; `None` when there are none.
    pub fn summary(&self) -> Option<Summary> {
        if self.values.is_empty() {
            return None;
        }
        let mut ms: Vec<f64> = self
            .values
            .iter()
            .map(|d| d.as_secs_f64() * 1000.0)
            .collect();
        ms.sort_by(f64::total_cmp);
        let mean_ms = ms.iter().sum::<f64>() / ms.len() as f64;
        Some(Summary {
            count: ms.len(),
            mean_ms,
            p50_ms: nearest_rank(&ms, 50.0),
            p99_ms: nearest_rank(&ms, 99.0),
            min_ms: ms[0],
            max_ms: ms[ms.len() - 1],
        })
    }
}

/// The nearest-rank percentile `p` of sorted, non-empty `values`.
fn nearest_rank(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_nearest_rank() {
        let mut samples = Samples::default();
        for ms in 1..=100 {
            samples.push(Duration::from_millis(ms));
        }
        let s = samples.summary().unwrap();
        assert_eq!(s.count, 100);
        assert_eq!(s.p50_ms, 50.0);
        assert_eq!(s.p99_ms, 99.0);
        assert_eq!(s.max_ms, 100.0);
        assert!((s.mean_ms - 50.5).abs() < 1e-9);
    }

    #[test]
    fn a_single_sample_is_every_percentile() {
        let mut samples = Samples::default();
        samples.push(Duration::from_millis(7));
        let s = samples.summary().unwrap();
        assert_eq!((s.p50_ms, s.p99_ms), (7.0, 7.0));
        assert!(Samples::default().summary().is_none());
    }
}
