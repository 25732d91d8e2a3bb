//! Reading wrk's `--latency` output.

use crate::stats::Summary;

/// Reads requests/s, the 50% and 99% latencies, the request count, and the failures (non-2xx
/// answers plus socket errors) from wrk's output; `None` when a required line is missing.
pub fn parse(output: &str) -> Option<Summary> {
    let mut rps = None;
    let mut p50 = None;
    let mut p99 = None;
    let mut ops = None;
    let mut errors = 0u64;
    for line in output.lines().map(str::trim) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["Requests/sec:", v] => rps = v.parse::<f64>().ok(),
            ["50%", v] => p50 = duration_ms(v),
            ["99%", v] => p99 = duration_ms(v),
            [n, "requests", "in", ..] => ops = n.parse::<u64>().ok(),
            ["Non-2xx", "or", "3xx", "responses:", n] => errors += n.parse::<u64>().unwrap_or(0),
            ["Socket", "errors:", rest @ ..] => {
                // connect 0, read 0, write 0, timeout 0
                errors += rest
                    .iter()
                    .filter_map(|w| w.trim_end_matches(',').parse::<u64>().ok())
                    .sum::<u64>();
            }
            _ => {}
        }
    }
    Some(Summary {
        rps: rps?,
        p50_ms: p50?,
        p99_ms: p99?,
        ops: ops?,
        errors,
    })
}

/// `512.42us`, `2.00ms`, `1.05s`, `1.00m` in milliseconds.
fn duration_ms(text: &str) -> Option<f64> {
    let (number, factor) = if let Some(n) = text.strip_suffix("us") {
        (n, 0.001)
    } else if let Some(n) = text.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1000.0)
    } else if let Some(n) = text.strip_suffix('m') {
        (n, 60_000.0)
    } else if let Some(n) = text.strip_suffix('h') {
        (n, 3_600_000.0)
    } else {
        return None;
    };
    number.parse::<f64>().ok().map(|n| n * factor)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "Running 5s test @ http://127.0.0.1:8000/health
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   512.42us  300.00us   8.00ms   90.00%
    Req/Sec    30.00k     2.00k   35.00k    70.00%
  Latency Distribution
     50%  450.00us
     75%  600.00us
     90%  800.00us
     99%    2.00ms
  300000 requests in 5.00s, 40.00MB read
  Non-2xx or 3xx responses: 12
  Socket errors: connect 0, read 1, write 0, timeout 5
Requests/sec:  60000.00
Transfer/sec:      8.00MB
";

    #[test]
    fn reads_throughput_latencies_and_failures() {
        let s = parse(SAMPLE).unwrap();
        assert_eq!(s.rps, 60000.0);
        assert!((s.p50_ms - 0.45).abs() < 1e-9);
        assert_eq!(s.p99_ms, 2.0);
        assert_eq!(s.ops, 300000);
        assert_eq!(s.errors, 18);
    }

    #[test]
    fn units_convert_to_milliseconds() {
        assert_eq!(duration_ms("1.50s"), Some(1500.0));
        assert_eq!(duration_ms("2.00m"), Some(120000.0));
        assert_eq!(duration_ms("7"), None);
    }

    #[test]
    fn output_without_a_summary_is_none() {
        assert!(parse("unable to connect to 127.0.0.1:1 Connection refused").is_none());
    }
}
