//! Agent-specific endpoints: the calling agent itself, and team assignment.

use axum::extract::State;
use http::StatusCode;
use plant_core::Catalog;
use plant_core::model::{Kind, Record};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::extract::{Agent, Authorized, DryRun, Genesis, Id, OptionalJson, Query};
use crate::handlers::catalog::{would_be, writer};
use crate::problem::{ApiError, HandlerResult};
use crate::query::parse_uuid;
use crate::response::json_response;
use crate::state::AppState;
use crate::wire::{Names, RecordOut, entity_response, record_out};

/// `GET /agents/me`: the agent named by the token's `agent_id`, with its job role, skill, team
/// and industry.
#[utoipa::path(get, path = "/api/v1/agents/me", tag = "agents",
    responses(
        (status = 200, description = "the agent, with `job_role`, `skill`, `team` and `industry_detail` objects"),
        (status = 401, description = "no valid token", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 403, description = "not an agent token, or no agent_id claim", body = crate::problem::Problem,
            content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn me(
    State(state): State<AppState>,
    Authorized(who, _): Authorized<Agent>,
) -> HandlerResult {
    let raw = who
        .agent_id
        .ok_or_else(|| ApiError::Forbidden("the token has no agent_id claim".into()))?;
    let id = parse_uuid("agent_id", &raw)
        .map_err(|_| ApiError::Forbidden("the token's agent_id is not a UUID".into()))?;
    let catalog = state.catalog();
    let record = catalog.get(Kind::Agent, id).await?;
    let Record::Agent(agent) = &record else {
        return Err(ApiError::internal(
            "the store returned another kind for an agent id",
        ));
    };
    let referenced = |kind: Kind, id: Uuid| async move {
        catalog
            .store()
            .get(Some(kind), id)
            .await
            .map_err(plant_core::Error::from)
    };
    let job_role = referenced(Kind::JobRole, agent.body.job_role_id).await?;
    let skill = referenced(Kind::Skill, agent.body.skill_id).await?;
    let team = match agent.body.team_id {
        Some(id) => referenced(Kind::Team, id).await?,
        None => None,
    };
    let industry = referenced(Kind::Industry, agent.body.industry_id).await?;
    let mut names = Names::default();
    let body = Me {
        agent: record_out(catalog, &record, &mut names).await?,
        job_role: optional(catalog, job_role.as_ref(), &mut names).await?,
        skill: optional(catalog, skill.as_ref(), &mut names).await?,
        team: optional(catalog, team.as_ref(), &mut names).await?,
        industry_detail: optional(catalog, industry.as_ref(), &mut names).await?,
    };
    Ok(json_response(StatusCode::OK, &body))
}

/// The calling agent, with the records it references (null when one is gone).
#[derive(Debug, Serialize)]
struct Me<'a> {
    #[serde(flatten)]
    agent: RecordOut<'a>,
    job_role: Option<RecordOut<'a>>,
    skill: Option<RecordOut<'a>>,
    team: Option<RecordOut<'a>>,
    industry_detail: Option<RecordOut<'a>>,
}

async fn optional<'a>(
    catalog: &Catalog,
    record: Option<&'a Record>,
    names: &mut Names,
) -> Result<Option<RecordOut<'a>>, ApiError> {
    match record {
        Some(record) => record_out(catalog, record, names).await.map(Some),
        None => Ok(None),
    }
}

/// The body of `assign-team`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct AssignTeam {
    /// The team (null takes the agent out of its team).
    pub team_id: Option<String>,
}

/// `POST /agents/{id}/assign-team`: `team_id` from the query or the JSON body.
#[utoipa::path(post, path = "/api/v1/agents/{id}/assign-team", tag = "agents",
    params(("id" = uuid::Uuid, Path, description = "the agent"),
           ("team_id" = Option<uuid::Uuid>, Query, description = "the team (or send it in the body)"),
           ("dry_run" = Option<bool>, Query, description = "true: the agent as it would become; nothing is written")),
    request_body(content = Option<AssignTeam>, description = "`{\"team_id\": …}`; `null` takes the agent out of its team"),
    responses(
        (status = 200, description = "the agent, now in the team"),
        (status = 404, description = "no such agent or team", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 422, description = "the team's job role differs from the agent's", body = crate::problem::Problem,
            content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn assign_team(
    State(state): State<AppState>,
    Authorized(who, _): Authorized<Genesis>,
    Id(agent_id): Id,
    Query(query): Query<AssignTeam>,
    DryRun(dry): DryRun,
    OptionalJson(body): OptionalJson<serde_json::Map<String, Value>>,
) -> HandlerResult {
    let team_id = match query.team_id {
        Some(raw) => Some(parse_uuid("team_id", &raw)?),
        None => match body.as_ref().and_then(|b| b.get("team_id")) {
            Some(Value::String(raw)) => Some(parse_uuid("team_id", raw)?),
            Some(Value::Null) => None,
            Some(_) => {
                return Err(ApiError::invalid_field("team_id", "must be a UUID or null"));
            }
            None => {
                return Err(ApiError::invalid_field(
                    "team_id",
                    "is required (in the query or the body)",
                ));
            }
        },
    };
    let agent = writer(&state, dry)
        .assign_team(agent_id, team_id, &who.subject)
        .await?;
    let catalog = state.catalog();
    if dry {
        return would_be(catalog, Record::Agent(agent)).await;
    }
    entity_response(catalog, &Record::Agent(agent), StatusCode::OK).await
}
