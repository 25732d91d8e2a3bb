//! Trials: anyone may book one (throttled per client); the customer named in it (by the token's
//! `email` claim) or an operator may read and change it.

use axum::extract::State;
use http::{HeaderMap, StatusCode, header};
use plant_core::catalog::TrialPatch;
use plant_core::input::TrialInput;
use plant_core::model::{Kind, Trial, TrialStatus};
use plant_core::store::ListQuery;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::{Principal, Role};
use crate::body::parse_json;
use crate::extract::{
    Authorized, Caller, Client, DryRun, Id, IdVersion, Json, JsonBody, OperatorOrCustomer, Query,
};
use crate::handlers::catalog::{collection, writer};
use crate::handlers::versions;
use crate::headers::{IfMatch, etag, location};
use crate::problem::{ApiError, HandlerResult};
use crate::query::{Paging, keyword, uuid_opt};
use crate::response::{empty, json_response};
use crate::state::AppState;
use crate::wire::TrialOut;

/// The envelope of `GET /trials` (kept from the reference API).
#[derive(Debug, Serialize, ToSchema)]
pub struct TrialPage<'a> {
    pub trials: Vec<TrialOut<'a>>,
    pub total: u64,
    pub skip: u64,
    pub limit: u32,
}

/// The filters of `GET /trials` (a customer's own e-mail replaces the one asked).
#[derive(Debug, Deserialize)]
pub struct TrialFilters {
    agent_id: Option<String>,
    status: Option<String>,
    customer_email: Option<String>,
}

/// Who may see a trial: an operator, or the customer whose e-mail it carries.
fn may_see(who: &Principal, trial: &Trial) -> bool {
    who.has_any(&[Role::Operator])
        || who
            .email
            .as_deref()
            .is_some_and(|e| e.trim().eq_ignore_ascii_case(trial.customer_email.as_str()))
}

/// The caller, who must be an operator or a customer.
type Reader = Authorized<OperatorOrCustomer>;

async fn visible_trial(state: &AppState, id: Uuid, who: &Principal) -> Result<Trial, ApiError> {
    let trial = state.catalog().get_trial(id).await?;
    if may_see(who, &trial) {
        Ok(trial)
    } else {
        Err(ApiError::Forbidden(
            "this trial belongs to another customer".into(),
        ))
    }
}

fn trial_response(trial: &Trial, status: StatusCode) -> HandlerResult {
    let mut response = json_response(status, &TrialOut::from(trial));
    response
        .headers_mut()
        .insert(header::ETAG, etag(trial.version));
    Ok(response)
}

/// `POST /trials`: books a seven-day trial (anyone; throttled per client). `?dry_run=true`
/// answers 200 with the trial it would book and books nothing (it counts against the throttle
/// as a booking does, so it answers the 429 a booking would).
#[utoipa::path(post, path = "/api/v1/trials", tag = "trials",
    params(("dry_run" = Option<bool>, Query, description = "true: the trial it would book, 200; nothing is written")),
    request_body(content = Object, description = "`{agent_id, customer_name, customer_email, company, phone}` \
        (`customer_company` / `customer_phone` accepted too)"),
    responses(
        (status = 201, description = "the trial, with `days_remaining`", body = TrialOut),
        (status = 404, description = "no such agent", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 422, description = "invalid input", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 429, description = "too many bookings from this client", body = crate::problem::Problem,
            content_type = "application/problem+json"),
    ))]
pub async fn book(
    State(state): State<AppState>,
    Caller(who): Caller,
    Client(client): Client,
    DryRun(dry): DryRun,
    JsonBody(body): JsonBody,
) -> HandlerResult {
    // Throttled before the body is looked at, so that malformed bookings count too.
    if let Err(retry_after_secs) = state.trial_limiter().check(&client) {
        return Err(ApiError::TooManyRequests { retry_after_secs });
    }
    let input: TrialInput = parse_json(&body)?;
    let actor = who.map_or_else(|| "anonymous".to_owned(), |p| p.subject);
    let trial = writer(&state, dry).book_trial(&input, &actor).await?;
    if dry {
        return Ok(json_response(StatusCode::OK, &TrialOut::from(&trial)));
    }
    let mut response = trial_response(&trial, StatusCode::CREATED)?;
    if let Some(loc) = location(&format!("{}/{}", collection(Kind::Trial), trial.id)) {
        response.headers_mut().insert(header::LOCATION, loc);
    }
    Ok(response)
}

/// `GET /trials`: an operator sees every trial (filters `agent_id`, `status`, `customer_email`);
/// a customer sees their own.
#[utoipa::path(get, path = "/api/v1/trials", tag = "trials",
    params(("skip" = Option<u64>, Query), ("limit" = Option<u32>, Query, description = "1 to 1000"),
           ("agent_id" = Option<uuid::Uuid>, Query), ("status" = Option<String>, Query)),
    responses((status = 200, description = "`{trials, total, skip, limit}`", body = TrialPage)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    Authorized(who, _): Reader,
    paging: Paging,
    Query(q): Query<TrialFilters>,
) -> HandlerResult {
    let status: Option<TrialStatus> = keyword("status", q.status.as_deref())?;
    let customer_email = if who.has_any(&[Role::Operator]) {
        q.customer_email.map(|e| e.trim().to_lowercase())
    } else {
        let email = who
            .email
            .as_deref()
            .ok_or_else(|| ApiError::Forbidden("the token has no email claim".into()))?;
        Some(email.trim().to_lowercase())
    };
    let query = ListQuery {
        kind: Some(Kind::Trial),
        status: status.map(Into::into),
        agent_id: uuid_opt("agent_id", q.agent_id.as_deref())?,
        customer_email,
        offset: paging.offset,
        limit: u64::from(paging.limit),
        ..ListQuery::default()
    };
    let (trials, total) = state.catalog().list_trials(&query).await?;
    Ok(json_response(
        StatusCode::OK,
        &TrialPage {
            trials: trials.iter().map(TrialOut::from).collect(),
            total,
            skip: paging.offset,
            limit: paging.limit,
        },
    ))
}

/// `GET /trials/{id}`.
#[utoipa::path(get, path = "/api/v1/trials/{id}", tag = "trials",
    params(("id" = uuid::Uuid, Path)),
    responses((status = 200, description = "the trial", body = TrialOut),
              (status = 403, description = "another customer's trial", body = crate::problem::Problem,
                content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    Authorized(who, _): Reader,
    Id(id): Id,
) -> HandlerResult {
    let trial = visible_trial(&state, id, &who).await?;
    trial_response(&trial, StatusCode::OK)
}

/// `PATCH /trials/{id}`: status (`converted`, `cancelled`, `expired`) and/or deliverables to add.
#[utoipa::path(patch, path = "/api/v1/trials/{id}", tag = "trials",
    params(("id" = uuid::Uuid, Path),
           ("dry_run" = Option<bool>, Query, description = "true: the trial as it would become; nothing is written")),
    request_body(content = Object, description = "`{status?, deliverables?: [{title, description?, url?}]}`"),
    responses((status = 200, description = "the trial", body = TrialOut),
              (status = 409, description = "a transition the trial cannot make", body = crate::problem::Problem,
                content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn patch(
    State(state): State<AppState>,
    Authorized(who, _): Reader,
    Id(id): Id,
    DryRun(dry): DryRun,
    headers: HeaderMap,
    Json(patch): Json<TrialPatch>,
) -> HandlerResult {
    let trial = visible_trial(&state, id, &who).await?;
    let expected = optional_if_match(&headers, trial.version)?;
    let trial = writer(&state, dry)
        .update_trial(trial.id, &patch, expected, &who.subject)
        .await?;
    if dry {
        return Ok(json_response(StatusCode::OK, &TrialOut::from(&trial)));
    }
    trial_response(&trial, StatusCode::OK)
}

/// `DELETE /trials/{id}`: cancels the trial; 204. `?dry_run=true`: 200 with the trial as it
/// would be, cancelled, and nothing written.
#[utoipa::path(delete, path = "/api/v1/trials/{id}", tag = "trials",
    params(("id" = uuid::Uuid, Path),
           ("dry_run" = Option<bool>, Query, description = "true: 200 with the would-be cancelled trial; nothing is written")),
    responses((status = 204, description = "cancelled"),
              (status = 200, description = "dry run: the trial as it would be"),
              (status = 409, description = "the trial is no longer active", body = crate::problem::Problem,
                content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn cancel(
    State(state): State<AppState>,
    Authorized(who, _): Reader,
    Id(id): Id,
    DryRun(dry): DryRun,
) -> HandlerResult {
    let trial = visible_trial(&state, id, &who).await?;
    let trial = writer(&state, dry)
        .cancel_trial(trial.id, &who.subject)
        .await?;
    if dry {
        return Ok(json_response(StatusCode::OK, &TrialOut::from(&trial)));
    }
    Ok(empty(StatusCode::NO_CONTENT))
}

/// `GET /trials/{id}/deliverables`.
#[utoipa::path(get, path = "/api/v1/trials/{id}/deliverables", tag = "trials",
    params(("id" = uuid::Uuid, Path)),
    responses((status = 200, description = "what the agent delivered, oldest first")),
    security(("bearer" = [])))]
pub async fn deliverables(
    State(state): State<AppState>,
    Authorized(who, _): Reader,
    Id(id): Id,
) -> HandlerResult {
    let trial = visible_trial(&state, id, &who).await?;
    Ok(json_response(StatusCode::OK, &trial.deliverables))
}

/// `GET /trials/{id}/versions`: every version of a trial with its lineage hash, for whoever
/// may read the trial.
#[utoipa::path(get, path = "/api/v1/trials/{id}/versions", tag = "trials",
    params(("id" = uuid::Uuid, Path)),
    responses((status = 200, description = "`[{version, seq, hash, prev_hash, lineage_hash, hash_verified, action, actor, at}]`, oldest first"),
              (status = 403, description = "another customer's trial", body = crate::problem::Problem,
                content_type = "application/problem+json"),
              (status = 404, description = "no such trial", body = crate::problem::Problem,
                content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn versions(
    State(state): State<AppState>,
    Authorized(who, _): Reader,
    Id(id): Id,
) -> HandlerResult {
    let trial = visible_trial(&state, id, &who).await?;
    versions::list(&state, Kind::Trial, trial.id).await
}

/// `GET /trials/{id}/versions/{n}`: the trial as it was at version `n`.
#[utoipa::path(get, path = "/api/v1/trials/{id}/versions/{n}", tag = "trials",
    params(("id" = uuid::Uuid, Path), ("n" = u64, Path, description = "a version, from 1")),
    responses((status = 200, description = "the version's summary, the trial under `entity`, and `inclusion_proof`"),
              (status = 404, description = "no such trial or version", body = crate::problem::Problem,
                content_type = "application/problem+json"),
              (status = 422, description = "`n` is not a positive integer", body = crate::problem::Problem,
                content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn version(
    State(state): State<AppState>,
    Authorized(who, _): Reader,
    IdVersion(id, n): IdVersion,
) -> HandlerResult {
    let trial = visible_trial(&state, id, &who).await?;
    versions::get(&state, Kind::Trial, trial.id, &n).await
}

/// The version an optional `If-Match` pins (412 when stale).
pub fn optional_if_match(headers: &HeaderMap, current: u64) -> Result<Option<u64>, ApiError> {
    if headers.contains_key(header::IF_MATCH) {
        let if_match = IfMatch::require(headers)?;
        if_match.check(current)?;
        Ok(Some(if_match.expected_version().unwrap_or(current)))
    } else {
        Ok(None)
    }
}
