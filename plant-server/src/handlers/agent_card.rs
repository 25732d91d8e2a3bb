//! `GET /api/v1/agents/{id}/agent-card`: an agent as an Agent2Agent (A2A) protocol AgentCard.
//!
//! The card follows A2A 0.3.0 (`specification/json/a2a.json` of a2aproject/A2A, whose
//! AgentCard schema the tests validate against) and adds A2A 1.0's `supportedInterfaces`, so
//! clients of either version read it. Plant is a catalog, not the agent's runtime: `url` is
//! where the agent is addressed in Plant (work is handed to it through `POST /api/v1/jobs`), over
//! plain HTTP+JSON. The card's skills are the agent's skill and its job role, each with tags and
//! an example drawn from the catalog.

use http::{StatusCode, header};
use plant_core::model::{Kind, Record};
use serde_json::{Value, json};

use crate::context::RequestCtx;
use crate::problem::ApiError;
use crate::response::json_response;
use crate::router::HandlerResult;

/// The A2A protocol version whose AgentCard fields the card carries.
pub const A2A_PROTOCOL_VERSION: &str = "0.3.0";

/// The transport the card names: Plant speaks plain JSON over HTTP.
const TRANSPORT: &str = "HTTP+JSON";

/// Who provides the agents.
const PROVIDER: &str = "Plant";

/// `GET /agents/{id}/agent-card` (anyone): the agent's AgentCard; 404 for an unknown agent.
#[utoipa::path(get, path = "/api/v1/agents/{id}/agent-card", tag = "agents",
    params(("id" = uuid::Uuid, Path, description = "the agent")),
    responses(
        (status = 200, description = "an A2A AgentCard: `{protocolVersion, name, description, url, preferredTransport, \
            supportedInterfaces, version, provider {organization, url}, documentationUrl, capabilities, \
            defaultInputModes, defaultOutputModes, skills [{id, name, description, tags, examples}]}`"),
        (status = 404, description = "no such agent", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 422, description = "the id is not a UUID", body = crate::problem::Problem, content_type = "application/problem+json"),
    ))]
pub async fn agent_card(ctx: RequestCtx) -> HandlerResult {
    let id = ctx.uuid_param("id")?;
    let catalog = ctx.state.catalog();
    let Record::Agent(agent) = catalog.get(Kind::Agent, id).await? else {
        return Err(ApiError::NotFound(format!("no agent with id {id}")));
    };
    let referenced = |kind: Kind, id: uuid::Uuid| async move {
        catalog
            .store()
            .get(Some(kind), id)
            .await
            .map_err(plant_core::Error::from)
    };
    let industry = referenced(Kind::Industry, agent.body.industry_id)
        .await?
        .and_then(|r| r.name().map(|n| n.as_str().to_owned()))
        .unwrap_or_default();
    let industry_tag = industry.to_lowercase();
    let mut skills = Vec::new();
    if let Some(Record::Skill(skill)) = referenced(Kind::Skill, agent.body.skill_id).await? {
        let mut tags = vec![skill.body.category.as_str().to_owned(), "skill".to_owned()];
        tags.extend((!industry_tag.is_empty()).then(|| industry_tag.clone()));
        skills.push(json!({
            "id": skill.base.id,
            "name": skill.body.name.as_str(),
            "description": non_blank(skill.body.description.as_str(), skill.body.name.as_str()),
            "tags": tags,
            "examples": [format!("Apply {} to a {} task", skill.body.name.as_str(), industry_or_any(&industry))],
        }));
    }
    if let Some(Record::JobRole(role)) = referenced(Kind::JobRole, agent.body.job_role_id).await? {
        let mut tags = vec![
            role.body.seniority_level.as_str().to_owned(),
            "job-role".to_owned(),
        ];
        tags.extend((!industry_tag.is_empty()).then(|| industry_tag.clone()));
        skills.push(json!({
            "id": role.base.id,
            "name": role.body.name.as_str(),
            "description": non_blank(role.body.description.as_str(), role.body.name.as_str()),
            "tags": tags,
            "examples": [format!("Work as a {} {}", role.body.seniority_level.as_str(), role.body.name.as_str())],
        }));
    }
    let base = ctx.state.public_url();
    let url = format!("{base}/api/v1/agents/{id}");
    let card = json!({
        "protocolVersion": A2A_PROTOCOL_VERSION,
        "name": agent.body.name.as_str(),
        "description": non_blank(agent.body.description.as_str(), agent.body.name.as_str()),
        "url": url,
        "preferredTransport": TRANSPORT,
        "supportedInterfaces": [{
            "url": url,
            "protocolBinding": TRANSPORT,
            "protocolVersion": A2A_PROTOCOL_VERSION,
        }],
        "version": agent.base.version.to_string(),
        "provider": { "organization": PROVIDER, "url": base },
        "documentationUrl": format!("{base}/openapi.json"),
        "capabilities": {
            "streaming": false,
            "pushNotifications": false,
            "stateTransitionHistory": false,
        },
        "defaultInputModes": ["application/json", "text/plain"],
        "defaultOutputModes": ["application/json"],
        "skills": skills,
    });
    let mut response = json_response(StatusCode::OK, &card);
    response
        .headers_mut()
        .insert(header::ETAG, crate::headers::etag(agent.base.version));
    Ok(response)
}

/// A2A requires a description; a blank one falls back to the name.
fn non_blank(text: &str, fallback: &str) -> Value {
    let text = text.trim();
    Value::from(if text.is_empty() { fallback } else { text })
}

fn industry_or_any(industry: &str) -> String {
    if industry.is_empty() {
        "customer's".to_owned()
    } else {
        format!("{} customer's", industry.to_lowercase())
    }
}
