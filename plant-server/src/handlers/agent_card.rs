//! `GET /api/v1/agents/{id}/agent-card`: an agent as an Agent2Agent (A2A) protocol AgentCard, one
//! card per protocol version, and `GET /.well-known/jwks.json`: the key that signs them.
//!
//! A2A 1.0 is served by default and A2A 0.3 when the client asks for it, by the `version` query
//! parameter or the `A2A-Version` request header (`1.0`, `0.3`; a patch part such as `0.3.0` is
//! accepted; the parameter wins over the header). Each card carries exactly the fields of its
//! version: the 1.0 card those of `AgentCard` in A2A's `specification/a2a.proto` (the endpoint in
//! `supportedInterfaces`, JWS `signatures`), the 0.3 card those of A2A 0.3.0's JSON Schema (the
//! endpoint in `url` + `preferredTransport`, `protocolVersion`,
//! `capabilities.stateTransitionHistory`). The tests parse both strictly with the official
//! Python SDK.
//!
//! The 1.0 card is signed (see [`crate::card_signing`]): `signatures[0]` is a detached JWS over
//! the RFC 8785 canonical JSON of the card without `signatures`, by the ed25519 key whose public
//! half `/.well-known/jwks.json` publishes (`kid`, `jku` in the protected header).
//!
//! Plant is a catalog, not the agent's runtime: the card's endpoint is where the agent is
//! addressed in Plant (work is handed to it through `POST /api/v1/jobs`), over plain HTTP+JSON.
//! The card's skills are the agent's skill and its job role, each with tags and an example drawn
//! from the catalog.

use axum::extract::State;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use plant_core::model::{Kind, Record};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::card_signing::JWKS_PATH;
use crate::extract::{Id, Query};
use crate::problem::{ApiError, HandlerResult};
use crate::response::json_response;
use crate::state::AppState;

/// The query of `GET /agents/{id}/agent-card`.
#[derive(Debug, Deserialize)]
pub struct CardQuery {
    version: Option<String>,
}

/// The request header that names the A2A protocol version a client speaks.
pub const VERSION_HEADER: &str = "a2a-version";

/// The transport the cards name: Plant speaks plain JSON over HTTP.
const TRANSPORT: &str = "HTTP+JSON";

/// Who provides the agents.
const PROVIDER: &str = "Plant";

/// The A2A protocol versions a card is served in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardVersion {
    /// A2A 1.0, the default; signed.
    V1_0,
    /// A2A 0.3.
    V0_3,
}

impl CardVersion {
    /// The version as `A2A-Version` writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::V1_0 => "1.0",
            Self::V0_3 => "0.3",
        }
    }

    /// `major.minor`, optionally with a patch part; `None` for a version not served.
    pub fn parse(text: &str) -> Option<Self> {
        let mut parts = text.trim().split('.');
        let major_minor = (parts.next(), parts.next());
        if parts.next().is_some_and(|p| p.parse::<u32>().is_err()) || parts.next().is_some() {
            return None;
        }
        match major_minor {
            (Some("1"), Some("0")) => Some(Self::V1_0),
            (Some("0"), Some("3")) => Some(Self::V0_3),
            _ => None,
        }
    }

    /// The version asked for: the `version` parameter, else the `A2A-Version` header, else 1.0.
    fn requested(version: Option<String>, headers: &HeaderMap) -> Result<Self, ApiError> {
        let asked = match version {
            Some(v) => Some(v),
            None => match headers.get(VERSION_HEADER) {
                Some(v) => Some(v.to_str().map(str::to_owned).map_err(|_| {
                    ApiError::BadRequest("the A2A-Version header is not text".into())
                })?),
                None => None,
            },
        };
        match asked {
            None => Ok(Self::V1_0),
            Some(v) if v.trim().is_empty() => Ok(Self::V1_0),
            Some(v) => Self::parse(&v).ok_or_else(|| {
                ApiError::BadRequest(format!(
                    "A2A version {v:?} is not served: ask for 1.0 (the default) or 0.3"
                ))
            }),
        }
    }
}

/// `GET /agents/{id}/agent-card` (anyone): the agent's AgentCard in the A2A version asked for;
/// 404 for an unknown agent.
#[utoipa::path(get, path = "/api/v1/agents/{id}/agent-card", tag = "agents",
    params(
        ("id" = uuid::Uuid, Path, description = "the agent"),
        ("version" = Option<String>, Query, description = "A2A protocol version of the card: `1.0` (default) or `0.3`; wins over `A2A-Version`"),
        ("A2A-Version" = Option<String>, Header, description = "A2A protocol version of the card: `1.0` (default) or `0.3`"),
    ),
    responses(
        (status = 200, description = "an A2A AgentCard. A2A 1.0: `{name, description, supportedInterfaces [{url, \
            protocolBinding, protocolVersion}], provider {organization, url}, version, documentationUrl, capabilities \
            {streaming, pushNotifications}, defaultInputModes, defaultOutputModes, skills [{id, name, description, \
            tags, examples}], signatures [{protected, signature}]}`, the signature a detached JWS (EdDSA) over the \
            RFC 8785 canonical card without `signatures`, its key at `/.well-known/jwks.json`. A2A 0.3: \
            `{protocolVersion, name, description, url, preferredTransport, version, provider, documentationUrl, \
            capabilities {streaming, pushNotifications, stateTransitionHistory}, defaultInputModes, \
            defaultOutputModes, skills}`"),
        (status = 400, description = "an A2A version that is not served", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such agent", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 422, description = "the id is not a UUID", body = crate::problem::Problem, content_type = "application/problem+json"),
    ))]
pub async fn agent_card(
    State(state): State<AppState>,
    Id(id): Id,
    Query(query): Query<CardQuery>,
    headers: HeaderMap,
) -> HandlerResult {
    let version = CardVersion::requested(query.version, &headers)?;
    let catalog = state.catalog();
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
    let base = state.public_url();
    let url = format!("{base}/api/v1/agents/{id}");
    // The fields both versions share, none of them empty: A2A 1.0 clients canonicalise a card
    // through its protobuf form, which drops empty strings and lists, before checking a signature.
    let mut card = json!({
        "name": agent.body.name.as_str(),
        "description": non_blank(agent.body.description.as_str(), agent.body.name.as_str()),
        "version": agent.base.version.to_string(),
        "provider": { "organization": PROVIDER, "url": base },
        "documentationUrl": format!("{base}/openapi.json"),
        "defaultInputModes": ["application/json", "text/plain"],
        "defaultOutputModes": ["application/json"],
        "skills": skills,
    });
    let signer = state.card_signer();
    let etag = match version {
        CardVersion::V1_0 => {
            card["supportedInterfaces"] = json!([{
                "url": url,
                "protocolBinding": TRANSPORT,
                "protocolVersion": CardVersion::V1_0.as_str(),
            }]);
            card["capabilities"] = json!({ "streaming": false, "pushNotifications": false });
            let signature = signer
                .sign(&card, &format!("{base}{JWKS_PATH}"))
                .map_err(|e| ApiError::Internal(Box::new(e)))?;
            card["signatures"] = json!([signature]);
            // The signed bytes change with the key, so the tag names it.
            format!("\"v{}-a2a1.0-{}\"", agent.base.version, signer.kid())
        }
        CardVersion::V0_3 => {
            card["protocolVersion"] = json!("0.3.0");
            card["url"] = json!(url);
            card["preferredTransport"] = json!(TRANSPORT);
            card["capabilities"] = json!({
                "streaming": false,
                "pushNotifications": false,
                "stateTransitionHistory": false,
            });
            format!("\"v{}-a2a0.3\"", agent.base.version)
        }
    };
    let mut response = json_response(StatusCode::OK, &card);
    let headers = response.headers_mut();
    if let Ok(etag) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, etag);
    }
    headers.append(header::VARY, HeaderValue::from_static("A2A-Version"));
    Ok(response)
}

/// `GET /.well-known/jwks.json` (anyone): the JSON Web Key Set with the public key that signs A2A
/// 1.0 agent cards.
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "agents",
    responses(
        (status = 200, description = "an RFC 7517 JSON Web Key Set: `{keys: [{kty: OKP, crv: Ed25519, x, kid, alg: EdDSA, \
            use: sig}]}`; `kid` (the RFC 7638 thumbprint) is the one in agent card signatures' protected header",
            content_type = "application/jwk-set+json"),
    ))]
pub async fn jwks(State(state): State<AppState>) -> HandlerResult {
    let mut response = json_response(StatusCode::OK, &state.card_signer().jwks());
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/jwk-set+json"),
    );
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
