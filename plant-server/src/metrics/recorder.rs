//! The request counters and latency histograms: the `metrics` facade into a Prometheus recorder
//! owned by the server's state (not a process-global one, so that servers in one process count
//! apart), and the gauges set at scrape time.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use http::Method;
use metrics::{Counter, Histogram, Key, Label, Metadata, Recorder, SharedString};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};

/// Upper bounds of the latency histogram buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The route label of requests that matched no route.
pub const UNMATCHED: &str = "unmatched";

const REQUESTS: &str = "plant_http_requests_total";
/// What the `metrics` macros would attach to the request series.
static METADATA: Metadata<'static> =
    Metadata::new(module_path!(), metrics::Level::INFO, Some(module_path!()));
const DURATION: &str = "plant_http_request_duration_seconds";

/// Observations between two upkeeps of the recorder (which folds histogram samples into their
/// buckets, so that memory stays bounded when nothing scrapes).
const UPKEEP_EVERY: u64 = 4096;

/// The gauges read at scrape time, with their help text.
const GAUGES: [(&str, &str); 13] = [
    (
        "plant_db_pool_connections",
        "Database connections of the pool, by state.",
    ),
    (
        "plant_db_pool_max_connections",
        "The most connections the pool opens.",
    ),
    (
        "plant_store_up",
        "1 when the store answered this scrape, 0 when it did not.",
    ),
    (
        "plant_audit_head_seq",
        "Seq of the newest audit entry (0: empty chain).",
    ),
    (
        "plant_audit_last_checkpoint_age_seconds",
        "Seconds since the newest signed checkpoint (absent when there is none).",
    ),
    (
        "plant_audit_last_checkpoint_seq",
        "Seq the newest signed checkpoint covers.",
    ),
    (
        "plant_embed_queue_depth",
        "Embedding requests waiting for the embedder.",
    ),
    (
        "plant_embed_in_flight",
        "Embedding requests being computed.",
    ),
    (
        "plant_vector_backlog",
        "Vectors still to compute and store after their records' commits (dropped ones count until a sweep stored them).",
    ),
    (
        "plant_vector_lag_seconds",
        "Seconds from a record's commit to its vector stored, over the newest vectors stored (quantile 1 is the largest).",
    ),
    (
        "plant_vector_lag_samples",
        "How many stored vectors plant_vector_lag_seconds covers (at most 10,000).",
    ),
    ("plant_feed_clients", "Live SSE feed clients."),
    (
        "plant_feed_max_clients",
        "The most live SSE feed clients served at once.",
    ),
];

/// The request counter and latency histogram of one route, method and status.
struct Series {
    requests: Counter,
    duration: Histogram,
}

/// The series registered so far, per route template: each (method label, status) seen. Route
/// templates are the router's (and [`UNMATCHED`]), method labels nine, statuses three digits,
/// so it stays bounded whatever clients send.
type Registered = HashMap<Box<str>, Vec<(&'static str, u16, Series)>>;

/// Request counters and latency histograms, and the gauges of the last scrape.
pub struct Metrics {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    observed: AtomicU64,
    /// Handles looked up once per series: registering builds the labels and hashes the key
    /// (about 5% of a small answer's CPU, measured with perf, when done per request).
    series: RwLock<Registered>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let builder = PrometheusBuilder::new();
        // The bucket list is a non-empty constant: set_buckets cannot refuse it.
        let builder = builder
            .set_buckets(&BUCKETS)
            .unwrap_or_else(|_| PrometheusBuilder::new());
        let recorder = builder.build_recorder();
        recorder.describe_counter(
            REQUESTS.into(),
            None,
            SharedString::const_str(
                "HTTP requests answered, by route template, method and status.",
            ),
        );
        recorder.describe_histogram(
            DURATION.into(),
            None,
            SharedString::const_str(
                "Time to the response head, by route template, method and status.",
            ),
        );
        for (name, help) in GAUGES {
            recorder.describe_gauge(name.into(), None, SharedString::const_str(help));
        }
        Self {
            handle: recorder.handle(),
            recorder,
            observed: AtomicU64::new(0),
            series: RwLock::default(),
        }
    }
}

impl Metrics {
    /// Records one answered request.
    pub fn observe(&self, route: &str, method: &Method, status: u16, latency: Duration) {
        let method = method_label(method);
        let recorded = {
            let series = self.series.read().unwrap_or_else(|p| p.into_inner());
            series
                .get(route)
                .and_then(|seen| seen.iter().find(|(m, s, _)| *m == method && *s == status))
                .map(|(_, _, series)| {
                    series.requests.increment(1);
                    series.duration.record(latency);
                })
                .is_some()
        };
        if !recorded {
            let series = self.register(route, method, status);
            series.requests.increment(1);
            series.duration.record(latency);
            let mut registered = self.series.write().unwrap_or_else(|p| p.into_inner());
            let seen = registered.entry(route.into()).or_default();
            if !seen.iter().any(|(m, s, _)| *m == method && *s == status) {
                seen.push((method, status, series));
            }
        }
        if self.observed.fetch_add(1, Ordering::Relaxed) % UPKEEP_EVERY == UPKEEP_EVERY - 1 {
            self.handle.run_upkeep();
        }
    }

    /// The recorder's series of `route`, `method` and `status` (the same ones on every call).
    fn register(&self, route: &str, method: &'static str, status: u16) -> Series {
        // The route's text is copied once and shared by both keys' labels.
        let route = SharedString::from(Arc::<str>::from(route));
        let labels = vec![
            Label::new("route", route),
            Label::new("method", SharedString::const_str(method)),
            Label::new("status", status_label(status)),
        ];
        let requests = self
            .recorder
            .register_counter(&Key::from_parts(REQUESTS, labels.clone()), &METADATA);
        let duration = self
            .recorder
            .register_histogram(&Key::from_parts(DURATION, labels), &METADATA);
        Series { requests, duration }
    }

    /// Sets a gauge (at scrape time).
    pub fn gauge(&self, name: &'static str, labels: &[Label], value: f64) {
        metrics::with_local_recorder(&self.recorder, || {
            metrics::gauge!(name, labels.iter()).set(value);
        });
    }

    /// The exposition of every series.
    pub fn render(&self) -> String {
        self.handle.render()
    }
}

/// The status as a label without allocating for the usual ones.
fn status_label(status: u16) -> SharedString {
    const USUAL: [(u16, &str); 16] = [
        (200, "200"),
        (201, "201"),
        (204, "204"),
        (304, "304"),
        (400, "400"),
        (401, "401"),
        (403, "403"),
        (404, "404"),
        (405, "405"),
        (409, "409"),
        (412, "412"),
        (422, "422"),
        (428, "428"),
        (429, "429"),
        (500, "500"),
        (503, "503"),
    ];
    USUAL.iter().find(|(code, _)| *code == status).map_or_else(
        || SharedString::from_owned(status.to_string()),
        |(_, text)| SharedString::const_str(text),
    )
}

/// The method as a label without allocating for the standard ones.
/// The method as a label: the standard ones by name, any other as `OTHER` (a client may send any
/// token as a method, and each would otherwise be a series of its own).
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PATCH => "PATCH",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "OTHER",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative_and_end_with_the_count() {
        let m = Metrics::default();
        m.observe("/x/{id}", &Method::GET, 200, Duration::from_millis(3));
        m.observe("/x/{id}", &Method::GET, 200, Duration::from_millis(300));
        m.observe("/x/{id}", &Method::GET, 200, Duration::from_secs(60));
        let out = m.render();
        let l = r#"route="/x/{id}",method="GET",status="200""#;
        assert!(
            out.contains(&format!("plant_http_requests_total{{{l}}} 3\n")),
            "{out}"
        );
        for (le, n) in [
            ("0.001", 0),
            ("0.005", 1),
            ("0.5", 2),
            ("10", 2),
            ("+Inf", 3),
        ] {
            assert!(
                out.contains(&format!(
                    "plant_http_request_duration_seconds_bucket{{{l},le=\"{le}\"}} {n}\n"
                )),
                "{le}: {out}"
            );
        }
        assert!(
            out.contains("# TYPE plant_http_request_duration_seconds histogram"),
            "{out}"
        );
    }

    #[test]
    fn series_are_counted_apart_and_other_methods_share_one() {
        let m = Metrics::default();
        for _ in 0..3 {
            m.observe("/x", &Method::GET, 200, Duration::from_millis(1));
        }
        m.observe("/x", &Method::GET, 404, Duration::from_millis(1));
        m.observe("/y", &Method::GET, 200, Duration::from_millis(1));
        for name in ["BREW", "PROPFIND", "X-ANYTHING"] {
            let method = Method::from_bytes(name.as_bytes()).unwrap();
            m.observe("/x", &method, 405, Duration::from_millis(1));
        }
        let out = m.render();
        for (series, n) in [
            (r#"route="/x",method="GET",status="200""#, 3),
            (r#"route="/x",method="GET",status="404""#, 1),
            (r#"route="/y",method="GET",status="200""#, 1),
            (r#"route="/x",method="OTHER",status="405""#, 3),
        ] {
            assert!(
                out.contains(&format!("plant_http_requests_total{{{series}}} {n}\n")),
                "{series}: {out}"
            );
        }
        assert!(!out.contains("BREW"), "{out}");
    }

    #[test]
    fn label_values_are_escaped() {
        let m = Metrics::default();
        m.observe("/a\"b", &Method::GET, 200, Duration::from_millis(3));
        let out = m.render();
        assert!(out.contains(r#"route="/a\"b""#), "{out}");
    }
}
