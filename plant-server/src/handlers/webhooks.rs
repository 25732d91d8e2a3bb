//! Webhook subscriptions (operator role): create (the secret is shown once), list, read,
//! change, delete, rotate the secret, resume or replay from a seq, and the delivery log.

use std::collections::HashMap;

use axum::extract::{RawQuery, State};
use http::{StatusCode, header};
use plant_core::Timestamp;
use plant_core::webhooks::{
    DeliveryAttempt, Filter, Subscription, SubscriptionState, WebhookError, WebhookStore,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::Role;
use crate::extract::{Authorized, Id, Json, Roles};
use crate::headers::location;
use crate::problem::{ApiError, HandlerResult};
use crate::response::{empty, json_response};
use crate::state::AppState;

/// Operators, who run the platform's integrations.
#[derive(Debug)]
pub struct Operator;

impl Roles for Operator {
    const ROLES: &'static [Role] = &[Role::Operator];
}

type Caller = Authorized<Operator>;

/// Delivery log rows returned at most.
const MAX_DELIVERIES: u32 = 1000;

/// A subscription as the API shows it (never its secrets, but the new one once).
#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriptionView {
    pub id: uuid::Uuid,
    pub url: String,
    pub filter: FilterView,
    /// `active`, `failing` or `paused`.
    pub state: String,
    /// The last seq delivered (or passed over by the filter).
    pub cursor: u64,
    /// Failed attempts at the entry after the cursor.
    pub attempt: u32,
    #[schema(value_type = String)]
    pub next_attempt_at: Timestamp,
    /// Secrets that sign now (2 during a rotation's overlap).
    pub signing_secrets: usize,
    pub version: u64,
    #[schema(value_type = String)]
    pub created_at: Timestamp,
    #[schema(value_type = String)]
    pub updated_at: Timestamp,
    /// The signing secret (`whsec_…`): on creation and rotation only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

/// Which entries a subscription receives; an empty list does not filter.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct FilterView {
    #[serde(default)]
    pub kinds: Vec<String>,
    #[serde(default)]
    pub actions: Vec<String>,
}

impl SubscriptionView {
    fn of(sub: &Subscription, secret: Option<String>) -> Self {
        Self {
            id: sub.id,
            url: sub.url.clone(),
            filter: FilterView {
                kinds: sub.filter.kinds.clone(),
                actions: sub.filter.actions.clone(),
            },
            state: sub.state.as_str().to_owned(),
            cursor: sub.cursor,
            attempt: sub.attempt,
            next_attempt_at: sub.next_attempt_at,
            signing_secrets: sub.signing_secrets(Timestamp::now()).len(),
            version: sub.version,
            created_at: sub.created_at,
            updated_at: sub.updated_at,
            secret,
        }
    }
}

/// `POST /webhooks` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSubscription {
    pub url: String,
    #[serde(default)]
    pub filter: FilterView,
    /// Deliver the entries after this seq (default: the current head, so only new ones).
    pub after: Option<u64>,
}

/// `PATCH /webhooks/{id}` body: what to change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionPatch {
    pub url: Option<String>,
    pub filter: Option<FilterView>,
    /// `active` or `paused`.
    pub state: Option<String>,
}

fn error(err: WebhookError) -> ApiError {
    match err {
        WebhookError::NotFound(id) => ApiError::NotFound(format!("no webhook subscription {id}")),
        WebhookError::VersionConflict { .. } => {
            ApiError::Conflict("the subscription changed meanwhile; read it again and retry".into())
        }
        WebhookError::Store(e) => plant_core::Error::from(e).into(),
    }
}

fn store(state: &AppState) -> Result<&dyn WebhookStore, ApiError> {
    state.catalog().store().webhooks().ok_or_else(|| {
        ApiError::Unavailable(Some("this store keeps no webhook subscriptions".into()))
    })
}

fn filter(view: FilterView) -> Result<Filter, ApiError> {
    let clean = |list: Vec<String>, field: &str| -> Result<Vec<String>, ApiError> {
        if list.len() > 64 || list.iter().any(|v| v.trim().is_empty() || v.len() > 64) {
            return Err(ApiError::invalid_field(
                field,
                "at most 64 non-blank names of at most 64 characters",
            ));
        }
        Ok(list.into_iter().map(|v| v.trim().to_owned()).collect())
    };
    Ok(Filter {
        kinds: clean(view.kinds, "filter.kinds")?,
        actions: clean(view.actions, "filter.actions")?,
    })
}

async fn checked_url(state: &AppState, url: &str) -> Result<String, ApiError> {
    if url.len() > 2048 {
        return Err(ApiError::invalid_field("url", "at most 2048 characters"));
    }
    state
        .limits()
        .webhooks
        .check_target(url)
        .await
        .map_err(|e| ApiError::invalid_field("url", e.to_string()))?;
    Ok(url.trim().to_owned())
}

fn query(raw: Option<String>) -> HashMap<String, String> {
    form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

fn after(query: &HashMap<String, String>) -> Result<Option<u64>, ApiError> {
    query
        .get("after")
        .map(|v| {
            v.parse::<u64>()
                .map_err(|_| ApiError::invalid_field("after", "must be a seq (0 or more)"))
        })
        .transpose()
}

async fn load(hooks: &dyn WebhookStore, id: uuid::Uuid) -> Result<Subscription, ApiError> {
    hooks
        .subscription(id)
        .await
        .map_err(error)?
        .ok_or_else(|| ApiError::NotFound(format!("no webhook subscription {id}")))
}

/// The next version of `sub`, changed at `now`.
fn bump(sub: &mut Subscription, now: Timestamp) {
    sub.version += 1;
    sub.updated_at = now;
}

/// `POST /webhooks`: subscribes a URL; answers 201 with the secret, shown this once.
#[utoipa::path(post, path = "/api/v1/webhooks", tag = "webhooks",
    request_body = NewSubscription,
    responses((status = 201, body = SubscriptionView),
        (status = 422, description = "the URL is refused", body = crate::problem::Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    Authorized(who, _): Caller,
    Json(input): Json<NewSubscription>,
) -> HandlerResult {
    let hooks = store(&state)?;
    let url = checked_url(&state, &input.url).await?;
    let filter = filter(input.filter)?;
    let after = match input.after {
        Some(seq) => seq,
        None => {
            state
                .catalog()
                .store()
                .head()
                .await
                .map_err(|e| error(e.into()))?
                .seq
        }
    };
    let sub = Subscription::new(url, filter, after, Timestamp::now())
        .map_err(|e| ApiError::Internal(Box::new(e)))?;
    hooks
        .create_subscription(&sub, &who.subject)
        .await
        .map_err(error)?;
    let secret = sub.keys.first().map(|k| k.secret.expose());
    let mut response = json_response(StatusCode::CREATED, &SubscriptionView::of(&sub, secret));
    if let Some(loc) = location(&format!("/api/v1/webhooks/{}", sub.id)) {
        response.headers_mut().insert(header::LOCATION, loc);
    }
    Ok(response)
}

/// `GET /webhooks`: every subscription, oldest first.
#[utoipa::path(get, path = "/api/v1/webhooks", tag = "webhooks",
    responses((status = 200, body = Vec<SubscriptionView>)), security(("bearer" = [])))]
pub async fn list(State(state): State<AppState>, _who: Caller) -> HandlerResult {
    let subs = store(&state)?.subscriptions().await.map_err(error)?;
    let views: Vec<SubscriptionView> = subs.iter().map(|s| SubscriptionView::of(s, None)).collect();
    Ok(json_response(StatusCode::OK, &views))
}

/// `GET /webhooks/{id}`.
#[utoipa::path(get, path = "/api/v1/webhooks/{id}", tag = "webhooks",
    params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = SubscriptionView)), security(("bearer" = [])))]
pub async fn get(State(state): State<AppState>, _who: Caller, Id(id): Id) -> HandlerResult {
    let sub = load(store(&state)?, id).await?;
    Ok(json_response(
        StatusCode::OK,
        &SubscriptionView::of(&sub, None),
    ))
}

/// `PATCH /webhooks/{id}`: a new URL (checked again), filter, or state (`active`, `paused`).
#[utoipa::path(patch, path = "/api/v1/webhooks/{id}", tag = "webhooks",
    params(("id" = uuid::Uuid, Path)), request_body = SubscriptionPatch,
    responses((status = 200, body = SubscriptionView)), security(("bearer" = [])))]
pub async fn patch(
    State(state): State<AppState>,
    Authorized(who, _): Caller,
    Id(id): Id,
    Json(input): Json<SubscriptionPatch>,
) -> HandlerResult {
    let hooks = store(&state)?;
    let mut sub = load(hooks, id).await?;
    let now = Timestamp::now();
    if let Some(url) = input.url {
        sub.url = checked_url(&state, &url).await?;
    }
    if let Some(f) = input.filter {
        sub.filter = filter(f)?;
    }
    match input.state.as_deref() {
        None => {}
        Some("paused") => sub.state = SubscriptionState::Paused,
        Some("active") => sub.resume(None, now),
        Some(_) => {
            return Err(ApiError::invalid_field(
                "state",
                "active or paused (resume a failing subscription with POST …/resume)",
            ));
        }
    }
    bump(&mut sub, now);
    hooks
        .update_subscription(&sub, "update", &who.subject)
        .await
        .map_err(error)?;
    Ok(json_response(
        StatusCode::OK,
        &SubscriptionView::of(&sub, None),
    ))
}

/// `DELETE /webhooks/{id}`: 204; its delivery log goes with it, its audit entries stay.
#[utoipa::path(delete, path = "/api/v1/webhooks/{id}", tag = "webhooks",
    params(("id" = uuid::Uuid, Path)), responses((status = 204)), security(("bearer" = [])))]
pub async fn delete(
    State(state): State<AppState>,
    Authorized(who, _): Caller,
    Id(id): Id,
) -> HandlerResult {
    store(&state)?
        .delete_subscription(id, &who.subject)
        .await
        .map_err(error)?;
    Ok(empty(StatusCode::NO_CONTENT))
}

/// `POST /webhooks/{id}/rotate-secret`: a new secret (shown once); the old one keeps signing
/// beside it for the overlap (`PLANT_WEBHOOK_ROTATION_OVERLAP_S`).
#[utoipa::path(post, path = "/api/v1/webhooks/{id}/rotate-secret", tag = "webhooks",
    params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = SubscriptionView)), security(("bearer" = [])))]
pub async fn rotate_secret(
    State(state): State<AppState>,
    Authorized(who, _): Caller,
    Id(id): Id,
) -> HandlerResult {
    let hooks = store(&state)?;
    let mut sub = load(hooks, id).await?;
    let now = Timestamp::now();
    let overlap = chrono::Duration::from_std(state.limits().webhooks.rotation_overlap)
        .unwrap_or(chrono::Duration::days(1));
    let until = Timestamp::from_datetime(now.as_datetime() + overlap);
    let fresh = sub
        .rotate_secret(now, until)
        .map_err(|e| ApiError::Internal(Box::new(e)))?;
    bump(&mut sub, now);
    hooks
        .update_subscription(&sub, "rotate_secret", &who.subject)
        .await
        .map_err(error)?;
    Ok(json_response(
        StatusCode::OK,
        &SubscriptionView::of(&sub, Some(fresh.expose())),
    ))
}

/// `POST /webhooks/{id}/resume[?after=<seq>]`: delivers again, now, from its cursor or from
/// `after`.
#[utoipa::path(post, path = "/api/v1/webhooks/{id}/resume", tag = "webhooks",
    params(("id" = uuid::Uuid, Path), ("after" = Option<u64>, Query)),
    responses((status = 200, body = SubscriptionView)), security(("bearer" = [])))]
pub async fn resume(
    State(state): State<AppState>,
    Authorized(who, _): Caller,
    Id(id): Id,
    RawQuery(raw): RawQuery,
) -> HandlerResult {
    let after = after(&query(raw))?;
    restart(&state, &who.subject, id, after, "resume").await
}

/// `POST /webhooks/{id}/replay?after=<seq>`: delivers every matching entry after `after` again.
#[utoipa::path(post, path = "/api/v1/webhooks/{id}/replay", tag = "webhooks",
    params(("id" = uuid::Uuid, Path), ("after" = u64, Query)),
    responses((status = 200, body = SubscriptionView)), security(("bearer" = [])))]
pub async fn replay(
    State(state): State<AppState>,
    Authorized(who, _): Caller,
    Id(id): Id,
    RawQuery(raw): RawQuery,
) -> HandlerResult {
    let after = after(&query(raw))?
        .ok_or_else(|| ApiError::invalid_field("after", "the seq to replay after is required"))?;
    restart(&state, &who.subject, id, Some(after), "replay").await
}

async fn restart(
    state: &AppState,
    actor: &str,
    id: uuid::Uuid,
    after: Option<u64>,
    action: &str,
) -> HandlerResult {
    let hooks = store(state)?;
    let mut sub = load(hooks, id).await?;
    let now = Timestamp::now();
    // The URL is checked again: the policy may have changed since it was subscribed.
    checked_url(state, &sub.url).await?;
    sub.resume(after, now);
    bump(&mut sub, now);
    hooks
        .update_subscription(&sub, action, actor)
        .await
        .map_err(error)?;
    Ok(json_response(
        StatusCode::OK,
        &SubscriptionView::of(&sub, None),
    ))
}

/// `GET /webhooks/{id}/deliveries[?limit=]`: the delivery log, newest first.
#[utoipa::path(get, path = "/api/v1/webhooks/{id}/deliveries", tag = "webhooks",
    params(("id" = uuid::Uuid, Path), ("limit" = Option<u32>, Query, description = "1 to 1000, default 100")),
    responses((status = 200, description = "attempts: seq, webhook_id, attempt, at, status_code, latency_ms, error, next_retry_at")),
    security(("bearer" = [])))]
pub async fn deliveries(
    State(state): State<AppState>,
    _who: Caller,
    Id(id): Id,
    RawQuery(raw): RawQuery,
) -> HandlerResult {
    let hooks = store(&state)?;
    let limit = match query(raw).get("limit") {
        None => 100,
        Some(v) => v
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=MAX_DELIVERIES).contains(n))
            .ok_or_else(|| ApiError::invalid_field("limit", "1 to 1000"))?,
    };
    load(hooks, id).await?;
    let rows: Vec<DeliveryAttempt> = hooks.deliveries(id, limit).await.map_err(error)?;
    Ok(json_response(StatusCode::OK, &rows))
}
