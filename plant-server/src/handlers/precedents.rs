//! Precedent seeds: create (with the contradiction check), list, read with lineage, supersede,
//! approve, and query by meaning. Writing needs `genesis`; reading and querying are public.

use axum::extract::State;
use http::StatusCode;
use plant_core::catalog::{
    Lineage, PossibleConflict, PrecedentHit, PrecedentInput, PrecedentOutcome,
};
use plant_core::model::{Kind, PrecedentSeed, PrecedentStatus};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::extract::{Authorized, DryRun, Genesis, Json, Params, Query};
use crate::handlers::catalog::writer;
use crate::handlers::versions;
use crate::problem::{ApiError, HandlerResult};
use crate::query::number;
use crate::response::json_response;
use crate::state::AppState;

/// The filters of `GET /precedents`.
#[derive(Debug, Deserialize)]
pub struct ListFilters {
    status: Option<String>,
    limit: Option<String>,
    offset: Option<String>,
}

/// A new seed, or the successor in a supersession.
#[derive(Debug, Deserialize, ToSchema)]
#[allow(dead_code)] // documents the body for the OpenAPI document; parsed as `PrecedentInput`
pub struct PrecedentRequest {
    /// `PS-012`; the next free `PS-NNN` when absent.
    seed_id: Option<String>,
    /// A short title.
    title: String,
    /// The decision.
    content: String,
    /// Kinds it applies to: `Skill`, `JobRole`, `Team`, `Agent` (any spelling).
    applies_to: Vec<String>,
    /// The approving governor (the caller when absent).
    approving_governor_id: Option<String>,
    /// Create it `active` even when similar active seeds exist.
    acknowledge_conflicts: Option<bool>,
}

/// A semantic query over seeds.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QueryRequest {
    /// The text.
    text: String,
    /// How many (1 to 100, default 5).
    #[serde(default)]
    k: Option<u32>,
    /// Only seeds of this status (`active`, …); any when absent.
    #[serde(default)]
    status: Option<String>,
}

/// A seed written: the seed, the active seeds it may contradict, and the seed it superseded.
#[derive(Debug, Serialize)]
struct Written<'a> {
    #[serde(flatten)]
    seed: &'a PrecedentSeed,
    possible_conflicts: &'a [PossibleConflict],
    #[serde(skip_serializing_if = "Option::is_none")]
    superseded: Option<&'a PrecedentSeed>,
}

impl<'a> From<&'a PrecedentOutcome> for Written<'a> {
    fn from(outcome: &'a PrecedentOutcome) -> Self {
        Self {
            seed: &outcome.seed,
            possible_conflicts: &outcome.possible_conflicts,
            superseded: outcome.superseded.as_ref(),
        }
    }
}

/// A seed with the seeds before and after it.
#[derive(Debug, Serialize)]
struct WithLineage<'a> {
    #[serde(flatten)]
    seed: &'a PrecedentSeed,
    lineage: &'a Lineage,
}

/// The answer of a semantic query over seeds.
#[derive(Debug, Serialize)]
struct QueryResults<'a> {
    query: &'a str,
    model: &'a str,
    results: Vec<PrecedentHit>,
}

fn parse_status(raw: &str) -> Result<PrecedentStatus, ApiError> {
    raw.parse::<PrecedentStatus>()
        .map_err(|e| ApiError::invalid_field("status", e.to_string()))
}

/// `POST /precedents`: 201 with the seed and `possible_conflicts`; the seed is
/// `pending_review` when there are conflicts the request did not acknowledge.
#[utoipa::path(post, path = "/api/v1/precedents", tag = "precedents",
    params(("dry_run" = Option<bool>, Query, description = "true: 200 with the seed it would create; nothing is written")),
    request_body = PrecedentRequest,
    responses((status = 201, description = "the seed, with `possible_conflicts`"),
        (status = 409, description = "the seed id is taken", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 422, description = "invalid input", body = crate::problem::Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    Authorized(who, _): Authorized<Genesis>,
    DryRun(dry): DryRun,
    Json(input): Json<PrecedentInput>,
) -> HandlerResult {
    let outcome = writer(&state, dry)
        .create_precedent(&input, &who.subject)
        .await?;
    Ok(json_response(written(dry), &Written::from(&outcome)))
}

/// `GET /precedents?status=&limit=&offset=`: seeds by creation.
#[utoipa::path(get, path = "/api/v1/precedents", tag = "precedents",
    params(("status" = Option<String>, Query, description = "pending_review, active, superseded, deprecated or archived"),
           ("limit" = Option<u32>, Query, description = "at most 1000 (default 100)"),
           ("offset" = Option<u32>, Query, description = "skip this many")),
    responses((status = 200, description = "an array of seeds")))]
pub async fn list(State(state): State<AppState>, Query(q): Query<ListFilters>) -> HandlerResult {
    let status = q.status.as_deref().map(parse_status).transpose()?;
    let limit =
        number::<u64>("limit", q.limit.as_deref(), "an integer between 1 and 1000")?.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::invalid_field(
            "limit",
            "must be an integer between 1 and 1000",
        ));
    }
    let offset =
        number::<u64>("offset", q.offset.as_deref(), "a non-negative integer")?.unwrap_or(0);
    let seeds = state
        .catalog()
        .list_precedents(status, offset, limit)
        .await?;
    Ok(json_response(StatusCode::OK, &seeds))
}

/// `GET /precedents/{seed_id}`: the seed with `lineage: {older, newer}` (oldest first).
#[utoipa::path(get, path = "/api/v1/precedents/{seed_id}", tag = "precedents",
    params(("seed_id" = String, Path, description = "e.g. PS-001")),
    responses((status = 200, description = "the seed and its lineage"),
        (status = 404, description = "no such seed", body = crate::problem::Problem, content_type = "application/problem+json")))]
pub async fn get(State(state): State<AppState>, Params([seed_id]): Params<1>) -> HandlerResult {
    let catalog = state.catalog();
    let seed = catalog.get_precedent(&seed_id).await?;
    let lineage = catalog.precedent_lineage(&seed).await?;
    Ok(json_response(
        StatusCode::OK,
        &WithLineage {
            seed: &seed,
            lineage: &lineage,
        },
    ))
}

/// `POST /precedents/{seed_id}/supersede`: creates the successor and marks the seed
/// `superseded`, atomically; 201 with the new seed, `possible_conflicts` and `superseded`.
#[utoipa::path(post, path = "/api/v1/precedents/{seed_id}/supersede", tag = "precedents",
    params(("seed_id" = String, Path, description = "the seed to replace"),
        ("dry_run" = Option<bool>, Query, description = "true: 200 with the would-be seeds; nothing is written")),
    request_body = PrecedentRequest,
    responses((status = 201, description = "the new seed"),
        (status = 409, description = "the seed is not the newest of its lineage, or the new id is taken", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such seed", body = crate::problem::Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn supersede(
    State(state): State<AppState>,
    Authorized(who, _): Authorized<Genesis>,
    Params([seed_id]): Params<1>,
    DryRun(dry): DryRun,
    Json(input): Json<PrecedentInput>,
) -> HandlerResult {
    let outcome = writer(&state, dry)
        .supersede_precedent(&seed_id, &input, &who.subject)
        .await?;
    Ok(json_response(written(dry), &Written::from(&outcome)))
}

/// `POST /precedents/{seed_id}/approve`: a seed pending review becomes active.
#[utoipa::path(post, path = "/api/v1/precedents/{seed_id}/approve", tag = "precedents",
    params(("seed_id" = String, Path, description = "the seed to approve"),
        ("dry_run" = Option<bool>, Query, description = "true: the seed as it would become; nothing is written")),
    responses((status = 200, description = "the seed, active"),
        (status = 409, description = "the seed is not pending review", body = crate::problem::Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn approve(
    State(state): State<AppState>,
    Authorized(who, _): Authorized<Genesis>,
    Params([seed_id]): Params<1>,
    DryRun(dry): DryRun,
) -> HandlerResult {
    let seed = writer(&state, dry)
        .approve_precedent(&seed_id, &who.subject)
        .await?;
    Ok(json_response(StatusCode::OK, &seed))
}

/// `GET /precedents/{seed_id}/versions`: every version of a seed with its lineage hash
/// (public, as reading the seed is).
#[utoipa::path(get, path = "/api/v1/precedents/{seed_id}/versions", tag = "precedents",
    params(("seed_id" = String, Path, description = "e.g. PS-001")),
    responses((status = 200, description = "`[{version, seq, hash, prev_hash, lineage_hash, hash_verified, action, actor, at}]`, oldest first"),
        (status = 404, description = "no such seed", body = crate::problem::Problem, content_type = "application/problem+json")))]
pub async fn versions(
    State(state): State<AppState>,
    Params([seed_id]): Params<1>,
) -> HandlerResult {
    let seed = state.catalog().get_precedent(&seed_id).await?;
    versions::list(&state, Kind::PrecedentSeed, seed.id).await
}

/// `GET /precedents/{seed_id}/versions/{n}`: the seed as it was at version `n`.
#[utoipa::path(get, path = "/api/v1/precedents/{seed_id}/versions/{n}", tag = "precedents",
    params(("seed_id" = String, Path, description = "e.g. PS-001"), ("n" = u64, Path, description = "a version, from 1")),
    responses((status = 200, description = "the version's summary, the seed under `entity`, and `inclusion_proof`"),
        (status = 404, description = "no such seed or version", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 422, description = "`n` is not a positive integer", body = crate::problem::Problem, content_type = "application/problem+json")))]
pub async fn version(
    State(state): State<AppState>,
    Params([seed_id, n]): Params<2>,
) -> HandlerResult {
    let seed = state.catalog().get_precedent(&seed_id).await?;
    versions::get(&state, Kind::PrecedentSeed, seed.id, &n).await
}

/// A seed write answers 201; its dry run 200 (nothing was created).
fn written(dry: bool) -> StatusCode {
    if dry {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    }
}

/// `POST /precedents/query {text, k, status?}`: seeds closest in meaning, with scores.
#[utoipa::path(post, path = "/api/v1/precedents/query", tag = "precedents",
    request_body = QueryRequest,
    responses((status = 200, description = "`{query, model, results: [seed + score]}`")))]
pub async fn query(
    State(state): State<AppState>,
    Json(request): Json<QueryRequest>,
) -> HandlerResult {
    let text = request.text.trim();
    if text.is_empty() || text.chars().count() > 1000 {
        return Err(ApiError::invalid_field(
            "text",
            "must be 1 to 1000 characters",
        ));
    }
    let k = request.k.unwrap_or(5);
    if !(1..=100).contains(&k) {
        return Err(ApiError::invalid_field(
            "k",
            "must be an integer between 1 and 100",
        ));
    }
    let status = request.status.as_deref().map(parse_status).transpose()?;
    let catalog = state.catalog();
    let hits = catalog
        .query_precedents(text, status, usize::try_from(k).unwrap_or(5))
        .await?;
    Ok(json_response(
        StatusCode::OK,
        &QueryResults {
            query: text,
            model: catalog.embedder().model_id(),
            results: hits,
        },
    ))
}
