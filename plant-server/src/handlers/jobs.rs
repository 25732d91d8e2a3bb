//! Jobs: created by operators; read and moved along by operators or the agent they belong to.

use axum::extract::State;
use http::{HeaderMap, StatusCode, header};
use plant_core::catalog::JobPatch;
use plant_core::input::JobInput;
use plant_core::model::{Job, JobStatus, Kind};
use plant_core::store::ListQuery;
use serde::Deserialize;
use uuid::Uuid;

use crate::auth::{Principal, Role};
use crate::extract::{Authorized, DryRun, Id, IdVersion, Json, Operator, OperatorOrAgent, Query};
use crate::handlers::catalog::{collection, writer};
use crate::handlers::trials::optional_if_match;
use crate::handlers::versions;
use crate::headers::{etag, location};
use crate::problem::{ApiError, HandlerResult};
use crate::query::{Paging, keyword, uuid_opt};
use crate::response::json_response;
use crate::state::AppState;

/// The caller, who must be an operator or an agent.
type Reader = Authorized<OperatorOrAgent>;

/// The filters of `GET /jobs` (an agent's own `agent_id` replaces the one asked).
#[derive(Debug, Deserialize)]
pub struct JobFilters {
    agent_id: Option<String>,
    trial_id: Option<String>,
    status: Option<String>,
}

fn agent_of(who: &Principal) -> Option<Uuid> {
    who.agent_id
        .as_deref()
        .and_then(|raw| Uuid::parse_str(raw.trim()).ok())
}

fn may_touch(who: &Principal, job: &Job) -> bool {
    who.has_any(&[Role::Operator])
        || (who.has_any(&[Role::Agent]) && agent_of(who) == Some(job.agent_id))
}

fn job_response(job: &Job, status: StatusCode) -> HandlerResult {
    let mut response = json_response(status, job);
    response
        .headers_mut()
        .insert(header::ETAG, etag(job.version));
    Ok(response)
}

async fn visible_job(state: &AppState, id: Uuid, who: &Principal) -> Result<Job, ApiError> {
    let job = state.catalog().get_job(id).await?;
    if may_touch(who, &job) {
        Ok(job)
    } else {
        Err(ApiError::Forbidden(
            "this job belongs to another agent".into(),
        ))
    }
}

/// `POST /jobs` (operator): queues a job for an active agent; `?dry_run=true`: 200 with the
/// job it would queue, nothing written.
#[utoipa::path(post, path = "/api/v1/jobs", tag = "jobs",
    params(("dry_run" = Option<bool>, Query, description = "true: the job it would queue, 200; nothing is written")),
    request_body(content = Object, description = "`{agent_id, title, input?, trial_id?}`"),
    responses((status = 201, description = "the job, `queued`", body = Job),
              (status = 422, description = "invalid input", body = crate::problem::Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    Authorized(who, _): Authorized<Operator>,
    DryRun(dry): DryRun,
    Json(input): Json<JobInput>,
) -> HandlerResult {
    let job = writer(&state, dry).create_job(&input, &who.subject).await?;
    if dry {
        return Ok(json_response(StatusCode::OK, &job));
    }
    let mut response = job_response(&job, StatusCode::CREATED)?;
    if let Some(loc) = location(&format!("{}/{}", collection(Kind::Job), job.id)) {
        response.headers_mut().insert(header::LOCATION, loc);
    }
    Ok(response)
}

/// `GET /jobs`: an operator sees every job (filters `agent_id`, `trial_id`, `status`); an agent
/// sees its own.
#[utoipa::path(get, path = "/api/v1/jobs", tag = "jobs",
    params(("agent_id" = Option<uuid::Uuid>, Query), ("trial_id" = Option<uuid::Uuid>, Query),
           ("status" = Option<String>, Query), ("limit" = Option<u32>, Query), ("offset" = Option<u64>, Query)),
    responses((status = 200, description = "jobs, oldest first", body = Vec<Job>)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    Authorized(who, _): Reader,
    paging: Paging,
    Query(q): Query<JobFilters>,
) -> HandlerResult {
    let agent_id = if who.has_any(&[Role::Operator]) {
        uuid_opt("agent_id", q.agent_id.as_deref())?
    } else {
        Some(
            agent_of(&who)
                .ok_or_else(|| ApiError::Forbidden("the token has no agent_id claim".into()))?,
        )
    };
    let status: Option<JobStatus> = keyword("status", q.status.as_deref())?;
    let query = ListQuery {
        kind: Some(Kind::Job),
        agent_id,
        trial_id: uuid_opt("trial_id", q.trial_id.as_deref())?,
        status: status.map(Into::into),
        offset: paging.offset,
        limit: u64::from(paging.limit),
        ..ListQuery::default()
    };
    let records = state.catalog().list(&query).await?;
    let jobs: Vec<Job> = records
        .into_iter()
        .filter_map(|r| Job::try_from(r).ok())
        .collect();
    Ok(json_response(StatusCode::OK, &jobs))
}

/// `GET /jobs/{id}`.
#[utoipa::path(get, path = "/api/v1/jobs/{id}", tag = "jobs",
    params(("id" = uuid::Uuid, Path)),
    responses((status = 200, description = "the job", body = Job)),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    Authorized(who, _): Reader,
    Id(id): Id,
) -> HandlerResult {
    let job = visible_job(&state, id, &who).await?;
    job_response(&job, StatusCode::OK)
}

/// `PATCH /jobs/{id}`: `queued → running → succeeded | failed`, or `cancelled`; 409 otherwise.
#[utoipa::path(patch, path = "/api/v1/jobs/{id}", tag = "jobs",
    params(("id" = uuid::Uuid, Path),
           ("dry_run" = Option<bool>, Query, description = "true: the job as it would become; nothing is written")),
    request_body(content = Object, description = "`{status?, output?, error?}`"),
    responses((status = 200, description = "the job", body = Job),
              (status = 409, description = "a transition the job cannot make", body = crate::problem::Problem,
                content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn patch(
    State(state): State<AppState>,
    Authorized(who, _): Reader,
    Id(id): Id,
    DryRun(dry): DryRun,
    headers: HeaderMap,
    Json(patch): Json<JobPatch>,
) -> HandlerResult {
    let job = visible_job(&state, id, &who).await?;
    let expected = optional_if_match(&headers, job.version)?;
    let job = writer(&state, dry)
        .update_job(job.id, &patch, expected, &who.subject)
        .await?;
    if dry {
        return Ok(json_response(StatusCode::OK, &job));
    }
    job_response(&job, StatusCode::OK)
}

/// `GET /jobs/{id}/versions`: every version of a job with its lineage hash, for whoever may read
/// the job.
#[utoipa::path(get, path = "/api/v1/jobs/{id}/versions", tag = "jobs",
    params(("id" = uuid::Uuid, Path)),
    responses((status = 200, description = "`[{version, seq, hash, prev_hash, lineage_hash, hash_verified, action, actor, at}]`, oldest first"),
              (status = 403, description = "another agent's job", body = crate::problem::Problem,
                content_type = "application/problem+json"),
              (status = 404, description = "no such job", body = crate::problem::Problem,
                content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn versions(
    State(state): State<AppState>,
    Authorized(who, _): Reader,
    Id(id): Id,
) -> HandlerResult {
    let job = visible_job(&state, id, &who).await?;
    versions::list(&state, Kind::Job, job.id).await
}

/// `GET /jobs/{id}/versions/{n}`: the job as it was at version `n`.
#[utoipa::path(get, path = "/api/v1/jobs/{id}/versions/{n}", tag = "jobs",
    params(("id" = uuid::Uuid, Path), ("n" = u64, Path, description = "a version, from 1")),
    responses((status = 200, description = "the version's summary, the job under `entity`, and `inclusion_proof`"),
              (status = 404, description = "no such job or version", body = crate::problem::Problem,
                content_type = "application/problem+json"),
              (status = 422, description = "`n` is not a positive integer", body = crate::problem::Problem,
                content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn version(
    State(state): State<AppState>,
    Authorized(who, _): Reader,
    IdVersion(id, n): IdVersion,
) -> HandlerResult {
    let job = visible_job(&state, id, &who).await?;
    versions::get(&state, Kind::Job, job.id, &n).await
}
