//! Prometheus metrics in the text exposition format (0.0.4), served at `/metrics` on a listener
//! of its own (`PLANT_METRICS_PORT`), never on the public port.
//!
//! Request counts and latency histograms are kept here, labelled by the matched route template
//! (`/api/v1/agents/{id}`, never the raw path, so ids do not multiply series), the method and
//! the status; requests that match no route share `route="unmatched"`. Everything else is read
//! when scraped: the store's pool, the chain head, the newest checkpoint's age, the embedding
//! queue and the live feed clients. The format is small enough to write by hand, which keeps a
//! metrics crate and its global registry out of the server.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, StatusCode, header};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;

use crate::response::{Response, empty, full};
use crate::state::AppState;

/// Upper bounds of the latency histogram buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The route label of requests that matched no route.
pub const UNMATCHED: &str = "unmatched";

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    route: &'static str,
    method: String,
    status: u16,
}

#[derive(Debug, Default, Clone)]
struct Series {
    count: u64,
    /// Non-cumulative counts per bucket; the last slot is above the largest bound.
    buckets: [u64; BUCKETS.len() + 1],
    sum_seconds: f64,
}

/// Request counters and latency histograms.
#[derive(Debug, Default)]
pub struct Metrics {
    series: Mutex<BTreeMap<Key, Series>>,
}

impl Metrics {
    /// Records one answered request.
    pub fn observe(&self, route: &'static str, method: &Method, status: u16, latency: Duration) {
        let seconds = latency.as_secs_f64();
        let slot = BUCKETS
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(BUCKETS.len());
        let key = Key {
            route,
            method: method.as_str().to_owned(),
            status,
        };
        let mut series = self
            .series
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let s = series.entry(key).or_default();
        s.count += 1;
        s.buckets[slot] += 1;
        s.sum_seconds += seconds;
    }

    fn write_requests(&self, out: &mut String) {
        let series = self
            .series
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        out.push_str("# HELP plant_http_requests_total HTTP requests answered, by route template, method and status.\n");
        out.push_str("# TYPE plant_http_requests_total counter\n");
        for (key, s) in &series {
            let _ = writeln!(
                out,
                "plant_http_requests_total{{{}}} {}",
                labels(key),
                s.count
            );
        }
        out.push_str("# HELP plant_http_request_duration_seconds Time to the response head, by route template, method and status.\n");
        out.push_str("# TYPE plant_http_request_duration_seconds histogram\n");
        for (key, s) in &series {
            let l = labels(key);
            let mut cumulative = 0;
            for (bound, n) in BUCKETS.iter().zip(s.buckets.iter()) {
                cumulative += n;
                let _ = writeln!(
                    out,
                    "plant_http_request_duration_seconds_bucket{{{l},le=\"{bound}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "plant_http_request_duration_seconds_bucket{{{l},le=\"+Inf\"}} {}",
                s.count
            );
            let _ = writeln!(
                out,
                "plant_http_request_duration_seconds_sum{{{l}}} {}",
                s.sum_seconds
            );
            let _ = writeln!(
                out,
                "plant_http_request_duration_seconds_count{{{l}}} {}",
                s.count
            );
        }
    }
}

fn labels(key: &Key) -> String {
    format!(
        "route=\"{}\",method=\"{}\",status=\"{}\"",
        escape(key.route),
        escape(&key.method),
        key.status
    )
}

/// Label values escape `\`, `"` and newlines.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn gauge(out: &mut String, name: &str, help: &str, value: impl std::fmt::Display) {
    let _ = writeln!(
        out,
        "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
    );
}

/// The whole exposition for `state`.
pub async fn render(state: &AppState) -> String {
    let mut out = String::with_capacity(8192);
    state.metrics().write_requests(&mut out);

    let store = state.catalog().store();
    if let Some(pool) = store.pool_stats() {
        out.push_str(
            "# HELP plant_db_pool_connections Database connections of the pool, by state.\n",
        );
        out.push_str("# TYPE plant_db_pool_connections gauge\n");
        let _ = writeln!(
            out,
            "plant_db_pool_connections{{state=\"in_use\"}} {}",
            pool.size.saturating_sub(pool.idle)
        );
        let _ = writeln!(
            out,
            "plant_db_pool_connections{{state=\"idle\"}} {}",
            pool.idle
        );
        gauge(
            &mut out,
            "plant_db_pool_max_connections",
            "The most connections the pool opens.",
            pool.max,
        );
    }
    let head = store.head().await;
    gauge(
        &mut out,
        "plant_store_up",
        "1 when the store answered this scrape, 0 when it did not.",
        u8::from(head.is_ok()),
    );
    if let Ok(head) = head {
        gauge(
            &mut out,
            "plant_audit_head_seq",
            "Seq of the newest audit entry (0: empty chain).",
            head.seq,
        );
    }
    if let Ok(checkpoints) = store.checkpoints().await
        && let Some(newest) = checkpoints.iter().max_by_key(|c| c.signed_at)
    {
        let age = chrono::Utc::now() - newest.signed_at.as_datetime();
        gauge(
            &mut out,
            "plant_audit_last_checkpoint_age_seconds",
            "Seconds since the newest signed checkpoint (absent when there is none).",
            age.num_milliseconds().max(0) as f64 / 1000.0,
        );
        gauge(
            &mut out,
            "plant_audit_last_checkpoint_seq",
            "Seq the newest signed checkpoint covers.",
            newest.seq,
        );
    }
    let queue = state.catalog().embed_queue();
    gauge(
        &mut out,
        "plant_embed_queue_depth",
        "Embedding requests waiting for the embedder.",
        queue.depth(),
    );
    gauge(
        &mut out,
        "plant_embed_in_flight",
        "Embedding requests being computed.",
        queue.in_flight(),
    );
    gauge(
        &mut out,
        "plant_feed_clients",
        "Live SSE feed clients.",
        state.feeds().active(),
    );
    gauge(
        &mut out,
        "plant_feed_max_clients",
        "The most live SSE feed clients served at once.",
        state.feeds().max(),
    );
    out
}

async fn answer(state: AppState, request: Request<Incoming>) -> Result<Response, Infallible> {
    if request.uri().path() != "/metrics" {
        return Ok(empty(StatusCode::NOT_FOUND));
    }
    if request.method() != Method::GET && request.method() != Method::HEAD {
        let mut response = empty(StatusCode::METHOD_NOT_ALLOWED);
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return Ok(response);
    }
    let text = render(&state).await;
    let mut response = http::Response::new(full(Bytes::from(text)));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    Ok(response)
}

/// Serves `/metrics` on `listener` (HTTP/1.1) until the task is dropped.
pub async fn serve(listener: TcpListener, state: AppState) {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(metrics_addr = %addr, "serving Prometheus metrics at /metrics");
    }
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(err) => {
                tracing::warn!(error = %err, "metrics accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let state = state.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| answer(state.clone(), request));
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(10))
                .serve_connection(TokioIo::new(stream), service);
            if let Err(err) = connection.await {
                tracing::debug!(error = %err, "metrics connection closed with an error");
            }
        });
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
        let mut out = String::new();
        m.write_requests(&mut out);
        let l = r#"route="/x/{id}",method="GET",status="200""#;
        assert!(
            out.contains(&format!("plant_http_requests_total{{{l}}} 3\n")),
            "{out}"
        );
        assert!(out.contains(&format!(
            "plant_http_request_duration_seconds_bucket{{{l},le=\"0.001\"}} 0\n"
        )));
        assert!(out.contains(&format!(
            "plant_http_request_duration_seconds_bucket{{{l},le=\"0.005\"}} 1\n"
        )));
        assert!(out.contains(&format!(
            "plant_http_request_duration_seconds_bucket{{{l},le=\"0.5\"}} 2\n"
        )));
        assert!(out.contains(&format!(
            "plant_http_request_duration_seconds_bucket{{{l},le=\"10\"}} 2\n"
        )));
        assert!(out.contains(&format!(
            "plant_http_request_duration_seconds_bucket{{{l},le=\"+Inf\"}} 3\n"
        )));
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
