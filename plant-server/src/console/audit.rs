//! The audit chain for operators: its head and checkpoints, a full verification naming the first
//! bad seq and why, and a live feed of entries as they are committed.
//!
//! The feed is Server-Sent Events at `/console/audit/feed`, authenticated by the session cookie
//! (an `EventSource` cannot send an `Authorization` header). It follows the API's feed: each
//! event's `id` is the entry's seq, so a reconnecting browser sends `Last-Event-ID` and resumes
//! after the last entry it showed; it shares the API's client slots and ends at shutdown.

use std::sync::Arc;
use std::time::Duration;

use askama::Template;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use http::{HeaderMap, StatusCode};
use plant_core::audit::AuditEntry;
use plant_core::feed::{self, FeedOptions};

use super::page::{Page, secure};
use super::{Chrome, Console, Request, Session, guarded, when};
use crate::auth::Role;
use crate::state::AppState;

/// Entries read from the store at a time by one feed client.
const READ_BATCH: u64 = 256;
/// Reads again after this long without a wake-up.
const POLL_INTERVAL: Duration = Duration::from_secs(2);

/// A signed checkpoint as the page lists it.
#[derive(Debug, Clone)]
pub struct CheckpointRow {
    pub seq: u64,
    pub hash: String,
    pub signed_at: String,
    pub key: String,
}

#[derive(Template)]
#[template(path = "console/audit.html")]
struct AuditPage {
    chrome: Chrome,
    head_seq: u64,
    head_hash: String,
    checkpoints: Vec<CheckpointRow>,
    tree_checkpoints: Vec<CheckpointRow>,
}

#[derive(Template)]
#[template(path = "console/verify.html")]
struct VerifyPage {
    chrome: Chrome,
    ok: bool,
    entries: u64,
    head_seq: u64,
    head_hash: String,
    checkpoints: usize,
    break_seq: Option<u64>,
    reason: String,
}

/// `GET /console/audit` (operator).
pub async fn overview(request: Request) -> Page {
    guarded(request, &[Role::Operator], |request, session| async move {
        match overview_page(&request, &session).await {
            Ok(page) | Err(page) => page,
        }
    })
    .await
}

async fn overview_page(request: &Request, session: &Session) -> Result<Page, Page> {
    let store = request.state.catalog().store();
    let failed = |e: plant_core::store::StoreError| Page::failed(plant_core::Error::from(e));
    let head = store.head().await.map_err(failed)?;
    let mut checkpoints: Vec<CheckpointRow> = store
        .checkpoints()
        .await
        .map_err(failed)?
        .iter()
        .map(|c| CheckpointRow {
            seq: c.seq,
            hash: c.hash.to_string(),
            signed_at: when(c.signed_at),
            key: c.public_key.clone(),
        })
        .collect();
    checkpoints.reverse();
    let mut tree_checkpoints: Vec<CheckpointRow> = store
        .tree_checkpoints()
        .await
        .map_err(failed)?
        .iter()
        .map(|c| CheckpointRow {
            seq: c.tree_size,
            hash: c.root.to_string(),
            signed_at: when(c.signed_at),
            key: String::new(),
        })
        .collect();
    tree_checkpoints.reverse();
    Ok(Page::ok(&AuditPage {
        chrome: Chrome::new(session, "audit"),
        head_seq: head.seq,
        head_hash: head.hash.to_string(),
        checkpoints,
        tree_checkpoints,
    }))
}

/// `GET /console/audit/verify` (operator): what `GET /api/v1/audit/verify` answers.
pub async fn verify(request: Request) -> Page {
    guarded(request, &[Role::Operator], |request, session| async move {
        let catalog = request.state.catalog();
        let mut report = match catalog.verify(&[]).await {
            Ok(report) => report,
            Err(err) => return Page::failed(err),
        };
        if let Err(err) = request
            .state
            .transparency()
            .fold_checkpoints(catalog.store().as_ref(), None, &[], &mut report)
            .await
        {
            return Page::failed(crate::problem::ApiError::internal(err));
        }
        Page::ok(&VerifyPage {
            chrome: Chrome::new(&session, "audit"),
            ok: report.ok,
            entries: report.entries_checked,
            head_seq: report.head.seq,
            head_hash: report.head.hash.to_string(),
            checkpoints: report.checkpoints_checked,
            break_seq: report.first_break.as_ref().map(|b| b.seq),
            reason: report
                .first_break
                .as_ref()
                .map(|b| b.reason.to_string())
                .unwrap_or_default(),
        })
    })
    .await
}

/// The cursor a feed client resumes from: `Last-Event-ID` (sent by a reconnecting
/// `EventSource`), else `?after=`, else the head.
fn cursor(headers: &HeaderMap, query: Option<&str>) -> Option<u64> {
    let last = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    last.or_else(|| {
        form_urlencoded::parse(query.unwrap_or("").as_bytes())
            .find(|(k, _)| k == "after")
            .and_then(|(_, v)| v.trim().parse().ok())
    })
}

fn event(entry: &AuditEntry) -> Event {
    let data = serde_json::json!({
        "seq": entry.seq,
        "action": entry.action,
        "actor": entry.actor,
        "entity_type": entry.entity_type,
        "entity_id": entry.entity_id,
        "entity_version": entry.entity_version,
        "at": when(entry.at),
        "hash": entry.hash,
    });
    Event::default()
        .id(entry.seq.to_string())
        .event("entry")
        .data(data.to_string())
}

/// `GET /console/audit/feed` (operator): the live feed as Server-Sent Events.
pub async fn feed(
    state: AppState,
    console: Arc<Console>,
    headers: HeaderMap,
    query: Option<String>,
) -> Response {
    let request = Request {
        state,
        config: console,
        headers,
        query: Vec::new(),
        path: Vec::new(),
        body: Default::default(),
    };
    if let Err(page) = request.session(&[Role::Operator]).await {
        return page.into_response();
    }
    let store = request.state.catalog().store().clone();
    let after = match cursor(&request.headers, query.as_deref()) {
        Some(seq) => seq,
        None => match store.head().await {
            Ok(head) => head.seq,
            Err(err) => return Page::failed(plant_core::Error::from(err)).into_response(),
        },
    };
    let feeds = request.state.feeds();
    let Ok(permit) = feeds.slots.clone().try_acquire_owned() else {
        return Page::error(
            StatusCode::SERVICE_UNAVAILABLE,
            "every live-feed slot is taken; try again shortly",
        )
        .into_response();
    };
    let mut closing = feeds.closing.subscribe();
    let shutdown = async move {
        let _ = closing.wait_for(|closing| *closing).await;
    };
    let entries = feed::subscribe(
        store,
        after,
        FeedOptions {
            batch: READ_BATCH,
            poll_interval: POLL_INTERVAL,
        },
    )
    .filter_map(move |item| {
        let _slot = &permit;
        async move {
            match item {
                Ok(entry) => Some(Ok::<_, std::convert::Infallible>(event(&entry))),
                Err(err) => {
                    tracing::warn!(error = %err, "console feed read failed; retrying");
                    None
                }
            }
        }
    })
    .take_until(shutdown);
    let heartbeat = request.state.limits().feed_heartbeat;
    let mut response = Sse::new(entries)
        .keep_alive(KeepAlive::new().interval(heartbeat))
        .into_response();
    secure(response.headers_mut());
    response
}
