//! `POST /api/v1/validate`: validate-only. Runs what a create runs (parsing, the L1 rules,
//! references, the name's uniqueness) and writes nothing.
//!
//! One design for every validate-only call, the same as `?dry_run=true` on a create: a valid
//! entity is answered 200 with `{valid: true, entity_type, entity}` (the entity as it would be
//! created, version 0, no id reserved), an invalid one exactly as the create would fail:
//! problem+json 422 with every violation in `violations` (one line each) and `errors`
//! (structured), or 409 when the name is taken.

use axum::extract::State;
use http::StatusCode;
use plant_core::model::Kind;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::extract::{Authorized, Genesis, Json};
use crate::problem::{ApiError, HandlerResult};
use crate::query::parse_kind;
use crate::response::json_response;
use crate::state::AppState;
use crate::wire;

/// What to validate.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct ValidateRequest {
    /// `Skill`, `skill`, `JobRole`, `job_role`, `job-roles`, `Agent`, … (any case, snake and
    /// plural aliases).
    pub entity_type: String,
    /// The entity, as the body of its create request.
    #[schema(value_type = Object)]
    pub entity: Value,
}

/// `POST /validate` (genesis): the would-be entity, or its violations.
#[utoipa::path(post, path = "/api/v1/validate", tag = "catalog",
    request_body = ValidateRequest,
    responses(
        (status = 200, description = "valid: `{valid: true, entity_type, entity}`, the entity as it would be created; nothing is written"),
        (status = 409, description = "the name is taken", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 422, description = "invalid: every violation in `violations` (or an unknown `entity_type`)",
            body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 401, description = "no valid token", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 403, description = "not a genesis token", body = crate::problem::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn validate(
    State(state): State<AppState>,
    Authorized(who, _): Authorized<Genesis>,
    Json(request): Json<ValidateRequest>,
) -> HandlerResult {
    let kind = parse_kind("entity_type", &request.entity_type)?;
    if !request.entity.is_object() {
        return Err(ApiError::invalid_field("entity", "must be a JSON object"));
    }
    let catalog = state.catalog();
    let record = catalog
        .create_json(kind, request.entity, &who.subject, true)
        .await?;
    let mut names = wire::Names::default();
    let entity = wire::record_out(catalog, &record, &mut names).await?;
    Ok(json_response(
        StatusCode::OK,
        &Valid {
            valid: true,
            entity_type: kind,
            entity,
        },
    ))
}

/// The answer for a valid entity.
#[derive(Debug, Serialize)]
struct Valid<'a> {
    /// Always true (an invalid entity is a problem).
    valid: bool,
    entity_type: Kind,
    /// The entity as it would be created.
    entity: wire::RecordOut<'a>,
}
