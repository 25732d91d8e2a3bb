//! `GET /api/v1/audit/feed`: the audit chain as a change feed. Pages of JSON by default; with
//! `Accept: text/event-stream`, a live Server-Sent Events stream of every entry after the cursor.
//!
//! Each SSE client has a task that reads `plant_core::feed::subscribe` and writes frames into a
//! small bounded channel that the response body drains. A client that does not take a frame
//! within [`SLOW_CLIENT`] is closed (it resumes with `Last-Event-ID`), so a slow reader costs at
//! most the channel plus one read batch of memory. The number of clients is bounded
//! (`PLANT_FEED_MAX_CLIENTS`); past it the answer is 503 with `Retry-After`. On shutdown every
//! stream ends, so that draining does not wait for them.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::extract::State;
use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use http_body_util::StreamBody;
use hyper::body::Frame;
use plant_core::audit::AuditEntry;
use plant_core::feed::{self, FeedOptions};
use plant_core::store::StoreResult;
use tokio::sync::{OwnedSemaphorePermit, mpsc, watch};

use crate::extract::{Authorized, Instance, Operator, Query};
use crate::problem::{HandlerResult, PROBLEM_JSON, Problem, TYPE_BASE};
use crate::query::number;
use crate::response::{Response, json_response, json_response_with_type};
use crate::state::AppState;

/// Largest page of the JSON feed.
const MAX_PAGE: u64 = 1000;
/// Page size when `limit` is not given.
const DEFAULT_PAGE: u64 = 100;
/// Frames buffered for one SSE client.
const CLIENT_BUFFER: usize = 64;
/// A client that takes no frame for this long is closed.
pub const SLOW_CLIENT: Duration = Duration::from_secs(10);
/// Entries one subscription reads from the store at a time.
const READ_BATCH: u64 = 256;
/// Reads again after this long without a wake-up (lost notifications, or a store outage).
const POLL_INTERVAL: Duration = Duration::from_secs(5);
/// `Retry-After` when every client slot is taken.
const RETRY_AFTER_SECS: u64 = 5;
/// What the browser's `EventSource` waits before reconnecting.
const RECONNECT_MS: u64 = 2000;

/// The query of `GET /audit/feed`.
#[derive(Debug, serde::Deserialize)]
pub struct FeedQuery {
    after: Option<String>,
    limit: Option<String>,
}

/// `GET /audit/feed?after=<seq>&limit=`: entries after the cursor, in seq order, with the next
/// cursor; with `Accept: text/event-stream`, a live SSE stream from the cursor (or from
/// `Last-Event-ID`, which wins when both are sent).
#[utoipa::path(get, path = "/api/v1/audit/feed", tag = "audit",
    params(
        ("after" = Option<u64>, Query, description = "entries after this seq (default 0)"),
        ("limit" = Option<u32>, Query, description = "JSON pages: 1 to 1000, default 100"),
        ("Last-Event-ID" = Option<u64>, Header, description = "SSE: resume after this seq")),
    responses(
        (status = 200, description = "`{entries, next}`: entries in seq order and the cursor for the next page; \
            with `Accept: text/event-stream`, SSE events `entry` (`id` = seq, `data` = the entry) and heartbeat comments"),
        (status = 422, description = "a malformed cursor or limit"),
        (status = 503, description = "every live-feed slot is taken; retry after `Retry-After` seconds")),
    security(("bearer" = [])))]
pub async fn feed(
    State(state): State<AppState>,
    _: Authorized<Operator>,
    instance: Instance,
    headers: HeaderMap,
    Query(q): Query<FeedQuery>,
) -> HandlerResult {
    let after = number::<u64>(
        "after",
        q.after.as_deref(),
        "a non-negative integer (a seq)",
    )?
    .unwrap_or(0);
    if wants_event_stream(&headers) {
        let after = match last_event_id(&headers)? {
            Some(seq) => seq,
            None => after,
        };
        return Ok(stream(&state, &instance, after));
    }
    let limit = number::<u64>("limit", q.limit.as_deref(), "an integer between 1 and 1000")?
        .unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(crate::problem::ApiError::invalid_field(
            "limit",
            "must be an integer between 1 and 1000",
        ));
    }
    let page = feed::read_page(state.catalog().store().as_ref(), after, limit)
        .await
        .map_err(plant_core::Error::from)?;
    Ok(json_response(StatusCode::OK, &page))
}

fn wants_event_stream(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|item| {
            item.split(';')
                .next()
                .is_some_and(|t| t.trim().eq_ignore_ascii_case("text/event-stream"))
        })
}

fn last_event_id(headers: &HeaderMap) -> Result<Option<u64>, crate::problem::ApiError> {
    let Some(value) = headers.get("last-event-id") else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or("").trim();
    if text.is_empty() {
        return Ok(None);
    }
    text.parse::<u64>().map(Some).map_err(|_| {
        crate::problem::ApiError::invalid_field(
            "Last-Event-ID",
            "must be a non-negative integer (a seq)",
        )
    })
}

fn stream(state: &AppState, instance: &Instance, after: u64) -> Response {
    let clients = state.feeds();
    let Ok(permit) = clients.slots.clone().try_acquire_owned() else {
        return busy(instance, clients.max());
    };
    let entries = feed::subscribe(
        state.catalog().store().clone(),
        after,
        FeedOptions {
            batch: READ_BATCH,
            poll_interval: POLL_INTERVAL,
        },
    );
    let (tx, rx) = mpsc::channel::<Bytes>(CLIENT_BUFFER);
    let client = Client {
        entries,
        tx,
        heartbeat: state.limits().feed_heartbeat,
        closing: clients.closing.subscribe(),
        _permit: permit,
        active: ActiveGuard::new(clients.active.clone()),
    };
    tokio::spawn(client.run());

    let frames = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|bytes| (Ok::<_, Infallible>(Frame::data(bytes)), rx))
    });
    let mut response = Response::new(crate::response::Body::new(StreamBody::new(frames)));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    // Proxies that buffer (nginx) would hold events back.
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

/// 503 when every slot is taken.
fn busy(instance: &Instance, max: usize) -> Response {
    let problem = Problem {
        type_uri: format!("{TYPE_BASE}feed-clients-exhausted"),
        title: "Service unavailable".into(),
        status: StatusCode::SERVICE_UNAVAILABLE.as_u16(),
        detail: format!(
            "the live feed serves at most {max} clients at once; try again in {RETRY_AFTER_SECS} s \
             or read pages without Accept: text/event-stream"
        ),
        instance: instance.path.clone(),
        correlation_id: instance.correlation_id.as_str().to_owned(),
        violations: None,
        errors: None,
    };
    let mut response =
        json_response_with_type(StatusCode::SERVICE_UNAVAILABLE, &problem, PROBLEM_JSON);
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
    response
}

/// Counts a live client for as long as it lives.
struct ActiveGuard(Arc<AtomicUsize>);

impl ActiveGuard {
    fn new(count: Arc<AtomicUsize>) -> Self {
        count.fetch_add(1, Ordering::Relaxed);
        Self(count)
    }
}

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// One live client: its subscription and the channel its response body drains.
struct Client {
    entries: BoxStream<'static, StoreResult<AuditEntry>>,
    tx: mpsc::Sender<Bytes>,
    heartbeat: Duration,
    closing: watch::Receiver<bool>,
    _permit: OwnedSemaphorePermit,
    active: ActiveGuard,
}

impl Client {
    async fn run(mut self) {
        let _ = &self.active;
        let hello = format!("retry: {RECONNECT_MS}\n: connected\n\n");
        if !send(&self.tx, Bytes::from(hello)).await {
            return;
        }
        let start = tokio::time::Instant::now() + self.heartbeat;
        let mut heartbeat = tokio::time::interval_at(start, self.heartbeat);
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let frame = tokio::select! {
                _ = self.closing.wait_for(|closing| *closing) => break,
                () = self.tx.closed() => break,
                _ = heartbeat.tick() => Bytes::from_static(b": heartbeat\n\n"),
                item = self.entries.next() => match item {
                    Some(Ok(entry)) => match event(&entry) {
                        Some(frame) => frame,
                        None => break,
                    },
                    // The subscription retries by itself after its poll interval.
                    Some(Err(err)) => {
                        tracing::warn!(error = %err, "feed read failed; retrying");
                        continue;
                    }
                    None => break,
                },
            };
            if !send(&self.tx, frame).await {
                break;
            }
        }
    }
}

/// False when the client is gone or too slow (and is then dropped).
async fn send(tx: &mpsc::Sender<Bytes>, frame: Bytes) -> bool {
    {
        match tokio::time::timeout(SLOW_CLIENT, tx.send(frame)).await {
            Ok(Ok(())) => true,
            Ok(Err(_)) => false,
            Err(_) => {
                tracing::info!(
                    "feed client too slow; closing its stream (it can resume with Last-Event-ID)"
                );
                false
            }
        }
    }
}

/// `id: <seq>`, `event: entry`, `data: <entry JSON>` (one line: JSON escapes newlines).
fn event(entry: &AuditEntry) -> Option<Bytes> {
    match serde_json::to_string(entry) {
        Ok(json) => Some(Bytes::from(format!(
            "id: {}\nevent: entry\ndata: {json}\n\n",
            entry.seq
        ))),
        Err(err) => {
            tracing::error!(error = %err, seq = entry.seq, "cannot serialise an audit entry");
            None
        }
    }
}
