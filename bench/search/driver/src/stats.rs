//! Latency summaries.

/// Percentiles of a sample, in the sample's unit.
#[derive(Debug, Clone, Copy)]
pub struct Summary {
    pub n: usize,
    pub mean: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

/// Nearest-rank percentile of sorted values.
fn rank(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let r = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[r.clamp(1, sorted.len()) - 1]
}

impl Summary {
    /// Sorts `values` and summarises them.
    pub fn of(values: &mut [f64]) -> Self {
        values.sort_by(f64::total_cmp);
        let n = values.len();
        let mean = if n == 0 {
            f64::NAN
        } else {
            values.iter().sum::<f64>() / n as f64
        };
        Self {
            n,
            mean,
            p50: rank(values, 50.0),
            p90: rank(values, 90.0),
            p99: rank(values, 99.0),
            max: values.last().copied().unwrap_or(f64::NAN),
        }
    }

    fn round(x: f64) -> f64 {
        (x * 1000.0).round() / 1000.0
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "n": self.n,
            "mean": Self::round(self.mean),
            "p50": Self::round(self.p50),
            "p90": Self::round(self.p90),
            "p99": Self::round(self.p99),
            "max": Self::round(self.max),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let mut v: Vec<f64> = (1..=100).rev().map(f64::from).collect();
        let s = Summary::of(&mut v);
        assert_eq!(s.n, 100);
        assert_eq!(s.p50, 50.0);
        assert_eq!(s.p90, 90.0);
        assert_eq!(s.p99, 99.0);
        assert_eq!(s.max, 100.0);
        assert_eq!(s.mean, 50.5);
    }

    #[test]
    fn one_value() {
        let s = Summary::of(&mut [7.0]);
        assert_eq!((s.p50, s.p99, s.max), (7.0, 7.0, 7.0));
    }
}
