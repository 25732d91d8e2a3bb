//! Certification: one entity by path, one by `{entity_type, entity_id}`, or a batch of up to 50.
//!
//! A passing entity is answered 200 with its certified state. A failing one is recorded as
//! `rejected` (audited) and answered 422 with a `constitutional-violation` problem listing every
//! violation, which is what the platform portal's client recognises as a rule violation.

use axum::extract::State;
use http::StatusCode;
use plant_core::model::Kind;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::extract::{Authorized, DryRun, Genesis, Id, Json};
use crate::handlers::catalog::{would_be, writer};
use crate::problem::{ApiError, HandlerResult, Violation};
use crate::query::{parse_kind, parse_uuid};
use crate::response::json_response;
use crate::state::AppState;
use crate::wire::entity_response;

/// Most entities one batch may certify.
pub const MAX_BATCH: usize = 50;

/// What to certify.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct CertifyRequest {
    /// `Skill`, `skill`, `JobRole`, `job_role`, `jobrole`, `Agent`, … (any case, snake aliases).
    pub entity_type: String,
    /// The entity's id.
    pub entity_id: String,
}

/// A batch: a bare array, or `{"items": [...]}`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Batch {
    Items(Vec<CertifyRequest>),
    Wrapped {
        #[serde(alias = "entities", alias = "requests")]
        items: Vec<CertifyRequest>,
    },
}

/// One batch result.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchResult {
    pub entity_type: String,
    pub entity_id: String,
    /// `certified`, `rejected`, or `error`.
    pub status: &'static str,
    pub certified: bool,
    pub violations: Vec<Violation>,
    /// For `error`: the status and detail the single call would have answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<BatchError>,
}

/// Why one batch item could not be certified: what certifying it alone would have answered.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchError {
    pub status: u16,
    pub title: &'static str,
    pub detail: String,
}

impl From<&ApiError> for BatchError {
    fn from(err: &ApiError) -> Self {
        Self {
            status: err.status().as_u16(),
            title: err.slug_and_title().1,
            detail: err.detail(),
        }
    }
}

async fn certify_one(
    state: &AppState,
    kind: Kind,
    id: Uuid,
    actor: &str,
    dry: bool,
) -> HandlerResult {
    let outcome = writer(state, dry).certify(kind, id, actor).await?;
    let catalog = state.catalog();
    if outcome.passed() && dry {
        would_be(catalog, outcome.record).await
    } else if outcome.passed() {
        entity_response(catalog, &outcome.record, StatusCode::OK).await
    } else {
        let violations: Vec<Violation> = outcome
            .violations
            .into_iter()
            .map(Violation::from)
            .collect();
        Err(ApiError::RuleViolation {
            detail: format!(
                "the {kind} was rejected and recorded as such: {} rule(s) failed",
                violations.len()
            ),
            violations,
        })
    }
}

/// `POST /genesis/skills/{id}/certify`, `POST /genesis/job-roles/{id}/certify`.
pub async fn by_path(
    kind: Kind,
    State(state): State<AppState>,
    Authorized(who, _): Authorized<Genesis>,
    Id(id): Id,
    DryRun(dry): DryRun,
) -> HandlerResult {
    certify_one(&state, kind, id, &who.subject, dry).await
}

/// `POST /genesis/certify` with `{entity_type, entity_id}`; `?dry_run=true` answers what the
/// certification would (200 with the would-be entity, or the same 422) and records nothing.
#[utoipa::path(post, path = "/api/v1/genesis/certify", tag = "certification",
    params(("dry_run" = Option<bool>, Query, description = "true: check everything, record nothing")),
    request_body = CertifyRequest,
    responses(
        (status = 200, description = "certified; the entity"),
        (status = 422, description = "rejected (recorded), with every violation", body = crate::problem::Problem,
            content_type = "application/problem+json"),
        (status = 404, description = "no such entity", body = crate::problem::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn by_body(
    State(state): State<AppState>,
    Authorized(who, _): Authorized<Genesis>,
    DryRun(dry): DryRun,
    Json(request): Json<CertifyRequest>,
) -> HandlerResult {
    let kind = parse_kind("entity_type", &request.entity_type)?;
    let id = parse_uuid("entity_id", &request.entity_id)?;
    certify_one(&state, kind, id, &who.subject, dry).await
}

/// `POST /genesis/certify/batch`: up to 50 entities, a result each (200 overall);
/// `?dry_run=true` answers the same results and records none of them.
#[utoipa::path(post, path = "/api/v1/genesis/certify/batch", tag = "certification",
    params(("dry_run" = Option<bool>, Query, description = "true: the results the batch would give; nothing is recorded")),
    request_body = Vec<CertifyRequest>,
    responses((status = 200, description = "one result per item, in order", body = Vec<BatchResult>)),
    security(("bearer" = [])))]
pub async fn batch(
    State(state): State<AppState>,
    Authorized(who, _): Authorized<Genesis>,
    DryRun(dry): DryRun,
    Json(batch): Json<Batch>,
) -> HandlerResult {
    let items = match batch {
        Batch::Items(items) | Batch::Wrapped { items } => items,
    };
    if items.is_empty() || items.len() > MAX_BATCH {
        return Err(ApiError::invalid_field(
            "items",
            format!("a batch holds 1 to {MAX_BATCH} items"),
        ));
    }
    let catalog = writer(&state, dry);
    let mut results = Vec::with_capacity(items.len());
    for item in items {
        let outcome = async {
            let kind = parse_kind("entity_type", &item.entity_type)?;
            let id = parse_uuid("entity_id", &item.entity_id)?;
            Ok::<_, ApiError>(catalog.certify(kind, id, &who.subject).await?)
        }
        .await;
        let result = match outcome {
            Ok(done) => BatchResult {
                entity_type: item.entity_type,
                entity_id: item.entity_id,
                status: if done.passed() {
                    "certified"
                } else {
                    "rejected"
                },
                certified: done.passed(),
                violations: done.violations.into_iter().map(Violation::from).collect(),
                error: None,
            },
            Err(err) => {
                if err.status().is_server_error() {
                    tracing::error!(error = %err.cause_chain(), "batch certification item failed");
                }
                BatchResult {
                    entity_type: item.entity_type,
                    entity_id: item.entity_id,
                    status: "error",
                    certified: false,
                    violations: err.violations().to_vec(),
                    error: Some(BatchError::from(&err)),
                }
            }
        };
        results.push(result);
    }
    Ok(json_response(StatusCode::OK, &results))
}
