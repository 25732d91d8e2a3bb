//! Latency summaries: throughput, median and 99th percentile.

use std::fmt;
use std::time::Duration;

/// What one measured run produced.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    /// Requests (or operations) per second.
    pub rps: f64,
    /// Median latency, milliseconds.
    pub p50_ms: f64,
    /// 99th percentile latency, milliseconds.
    pub p99_ms: f64,
    /// Operations completed.
    pub ops: u64,
    /// Operations that failed (non-2xx answers, socket errors, store errors).
    pub errors: u64,
}

impl Summary {
    /// Summarises per-operation latencies (microseconds, any order) over `elapsed`.
    pub fn from_latencies(mut micros: Vec<u32>, errors: u64, elapsed: Duration) -> Self {
        micros.sort_unstable();
        let ops = micros.len() as u64;
        let secs = elapsed.as_secs_f64();
        Self {
            rps: if secs > 0.0 { ops as f64 / secs } else { 0.0 },
            p50_ms: percentile(&micros, 50.0) / 1000.0,
            p99_ms: percentile(&micros, 99.0) / 1000.0,
            ops,
            errors,
        }
    }
}

/// Tab-separated: rps, p50 ms, p99 ms, operations, errors (the columns `run.sh` records).
impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:.1}\t{:.3}\t{:.3}\t{}\t{}",
            self.rps, self.p50_ms, self.p99_ms, self.ops, self.errors
        )
    }
}

/// The nearest-rank percentile of sorted values; 0 when there are none.
pub fn percentile(sorted: &[u32], pct: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((pct / 100.0) * sorted.len() as f64).ceil() as usize;
    f64::from(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// The median of some values (the mean of the middle two for an even count); `None` when empty.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let v: Vec<u32> = (1..=100).collect();
        assert_eq!(percentile(&v, 50.0), 50.0);
        assert_eq!(percentile(&v, 99.0), 99.0);
        assert_eq!(percentile(&[7], 99.0), 7.0);
        assert_eq!(percentile(&[], 50.0), 0.0);
    }

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&[]), None);
    }

    #[test]
    fn summary_counts_per_second_and_converts_to_ms() {
        let s = Summary::from_latencies(vec![1000, 3000, 2000, 4000], 1, Duration::from_secs(2));
        assert_eq!(s.ops, 4);
        assert_eq!(s.rps, 2.0);
        assert_eq!(s.p50_ms, 2.0);
        assert_eq!(s.p99_ms, 4.0);
        assert_eq!(s.to_string(), "2.0\t2.000\t4.000\t4\t1");
    }
}
