//! Prometheus metrics, served at `/metrics` on a listener of its own (`PLANT_METRICS_PORT`), never
//! on the public port.
//!
//! Requests are counted and timed through the `metrics` facade into a Prometheus recorder owned by
//! the server's state (not a process-global one, so that servers in one process count apart),
//! labelled by the matched route template (`/api/v1/agents/{id}`, never the raw path, so ids do
//! not multiply series), the method and the status; requests that match no route share
//! `route="unmatched"`. Everything else is read when scraped: the store's pool, the chain head, the
//! newest checkpoint's age, the embedding queue, the vectors still to store and their lag
//! (commit to stored), and the live feed clients.

pub mod recorder;

use axum::extract::State;
use axum::routing::get;
use http::{HeaderValue, header};
use metrics::Label;
use tokio::net::TcpListener;

use crate::state::AppState;

pub use recorder::UNMATCHED;

/// The whole exposition for `state`: the request series, and the gauges read now.
pub async fn render(state: &AppState) -> String {
    let metrics = state.metrics();
    let store = state.catalog().store();
    if let Some(pool) = store.pool_stats() {
        let in_use = pool.size.saturating_sub(pool.idle);
        let by_state = |s: &'static str| [Label::from_static_parts("state", s)];
        metrics.gauge(
            "plant_db_pool_connections",
            &by_state("in_use"),
            f64::from(in_use),
        );
        metrics.gauge(
            "plant_db_pool_connections",
            &by_state("idle"),
            f64::from(pool.idle),
        );
        metrics.gauge("plant_db_pool_max_connections", &[], f64::from(pool.max));
    }
    let head = store.head().await;
    metrics.gauge("plant_store_up", &[], if head.is_ok() { 1.0 } else { 0.0 });
    if let Ok(head) = head {
        metrics.gauge("plant_audit_head_seq", &[], head.seq as f64);
    }
    if let Ok(Some(newest)) = store.newest_checkpoint().await {
        let age = chrono::Utc::now() - newest.signed_at.as_datetime();
        metrics.gauge(
            "plant_audit_last_checkpoint_age_seconds",
            &[],
            age.num_milliseconds().max(0) as f64 / 1000.0,
        );
        metrics.gauge("plant_audit_last_checkpoint_seq", &[], newest.seq as f64);
    }
    let queue = state.catalog().embed_queue();
    metrics.gauge("plant_embed_queue_depth", &[], queue.depth() as f64);
    metrics.gauge("plant_embed_in_flight", &[], queue.in_flight() as f64);
    if let Some(indexer) = state.catalog().started_vector_indexer() {
        metrics.gauge("plant_vector_backlog", &[], indexer.backlog() as f64);
        if let Some(lag) = indexer.lag() {
            // Over the newest vectors stored (up to ten thousand), from each record's commit.
            let quantile = |q: &'static str| [Label::from_static_parts("quantile", q)];
            let seconds = |d: std::time::Duration| d.as_secs_f64();
            metrics.gauge(
                "plant_vector_lag_seconds",
                &quantile("0.5"),
                seconds(lag.p50),
            );
            metrics.gauge(
                "plant_vector_lag_seconds",
                &quantile("0.99"),
                seconds(lag.p99),
            );
            metrics.gauge("plant_vector_lag_seconds", &quantile("1"), seconds(lag.max));
            metrics.gauge("plant_vector_lag_samples", &[], lag.count as f64);
        }
    }
    metrics.gauge("plant_feed_clients", &[], state.feeds().active() as f64);
    metrics.gauge("plant_feed_max_clients", &[], state.feeds().max() as f64);
    metrics.render()
}

async fn scrape(State(state): State<AppState>) -> impl axum::response::IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        render(&state).await,
    )
}

/// Serves `/metrics` (and nothing else) on `listener` until the task is dropped.
pub async fn serve(listener: TcpListener, state: AppState) {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(metrics_addr = %addr, "serving Prometheus metrics at /metrics");
    }
    let app = axum::Router::new()
        .route("/metrics", get(scrape))
        .with_state(state);
    if let Err(err) = axum::serve(listener, app).await {
        tracing::warn!(error = %err, "the metrics listener stopped");
    }
}
