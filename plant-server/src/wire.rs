//! Response bodies: records as the portals read them.
//!
//! A catalog entity is its flat JSON form (the seven base sections and the kind's fields), so the
//! clients' fields (`id`, `name`, `description`, `category`, `required_skills`, …) are all there;
//! agents add `industry` (the industry's name, lowercase), teams add `agents` (every member),
//! trials add `days_remaining`. Each addition is a field of a typed struct ([`RecordOut`]).

use std::collections::HashMap;

use http::{StatusCode, header};
use plant_core::Catalog;
use plant_core::Timestamp;
use plant_core::audit::AuditEntry;
use plant_core::model::{Agent, Entity, Kind, Record, Status, Team, Trial};
use plant_core::store::ListQuery;
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::headers::{etag, location};
use crate::problem::ApiError;
use crate::response::{Response, json_response};

/// Names of referenced entities, fetched once per response.
#[derive(Debug, Default)]
pub struct Names(HashMap<Uuid, Option<String>>);

impl Names {
    /// The names of every industry the agents among `records` reference, in one store call.
    pub async fn prefetch(catalog: &Catalog, records: &[Record]) -> Result<Self, ApiError> {
        let ids = Record::agent_industry_ids(records);
        if ids.is_empty() {
            return Ok(Self::default());
        }
        let mut found = catalog
            .store()
            .names(Kind::Industry, &ids)
            .await
            .map_err(plant_core::Error::from)?;
        Ok(Self(
            ids.into_iter().map(|id| (id, found.remove(&id))).collect(),
        ))
    }

    async fn name(
        &mut self,
        catalog: &Catalog,
        kind: Kind,
        id: Uuid,
    ) -> Result<Option<String>, ApiError> {
        if let Some(found) = self.0.get(&id) {
            return Ok(found.clone());
        }
        let name = catalog
            .store()
            .names(kind, &[id])
            .await
            .map_err(plant_core::Error::from)?
            .remove(&id);
        self.0.insert(id, name.clone());
        Ok(name)
    }
}

/// Members one store call reads while paging through a team's agents.
const MEMBER_PAGE: u64 = 1000;

/// A team's member, as the team's `agents` lists it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TeamMember {
    pub id: Uuid,
    pub name: String,
    #[schema(value_type = String, example = "active")]
    pub status: Status,
    pub job_role_id: Uuid,
}

/// Every agent whose `team_id` is `team`, in `(created_at, id)` order: paged through, never
/// capped.
async fn members(catalog: &Catalog, team: Uuid) -> Result<Vec<TeamMember>, ApiError> {
    let mut query = ListQuery {
        team_id: Some(team),
        ..ListQuery::of(Kind::Agent, MEMBER_PAGE)
    };
    let mut out = Vec::new();
    loop {
        let page = catalog.list(&query).await?;
        out.extend(page.iter().filter_map(|m| match m {
            Record::Agent(a) => Some(TeamMember {
                id: a.base.id,
                name: a.body.name.as_str().to_owned(),
                status: a.base.status,
                job_role_id: a.body.job_role_id,
            }),
            _ => None,
        }));
        match page.last() {
            Some(last) if page.len() as u64 == MEMBER_PAGE => {
                query.after = Some((last.created_at(), last.id()));
            }
            _ => return Ok(out),
        }
    }
}

/// One record as a response shows it: the record's own fields (flat), and what its kind adds.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum RecordOut<'a> {
    /// An agent and its industry's name (lowercase).
    Agent {
        #[serde(flatten)]
        agent: &'a Entity<Agent>,
        industry: Option<String>,
    },
    /// A team and its members.
    Team {
        #[serde(flatten)]
        team: &'a Entity<Team>,
        agents: Vec<TeamMember>,
    },
    /// A trial and the whole days left of it.
    Trial(TrialOut<'a>),
    /// A record with nothing added.
    Plain(&'a Record),
}

/// A trial with `days_remaining`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = TrialWithDays)]
pub struct TrialOut<'a> {
    #[serde(flatten)]
    #[schema(value_type = Trial)]
    pub trial: &'a Trial,
    /// Whole days left (0 once the trial has ended or is no longer active).
    pub days_remaining: i64,
}

impl<'a> From<&'a Trial> for TrialOut<'a> {
    fn from(trial: &'a Trial) -> Self {
        Self {
            trial,
            days_remaining: trial.days_remaining(Timestamp::now()),
        }
    }
}

/// A record as responses show it (see [`RecordOut`]).
pub async fn record_out<'a>(
    catalog: &Catalog,
    record: &'a Record,
    names: &mut Names,
) -> Result<RecordOut<'a>, ApiError> {
    Ok(match record {
        Record::Agent(agent) => {
            let industry = names
                .name(catalog, Kind::Industry, agent.body.industry_id)
                .await?;
            RecordOut::Agent {
                agent,
                industry: industry.map(|n| n.to_lowercase()),
            }
        }
        Record::Team(team) => RecordOut::Team {
            team,
            agents: members(catalog, team.base.id).await?,
        },
        Record::Trial(trial) => RecordOut::Trial(trial.into()),
        _ => RecordOut::Plain(record),
    })
}

/// A list body: every record as [`record_out`] shows it, the referenced names fetched in one
/// store call.
pub async fn records_out<'a>(
    catalog: &Catalog,
    records: &'a [Record],
) -> Result<Vec<RecordOut<'a>>, ApiError> {
    let mut names = Names::prefetch(catalog, records).await?;
    let mut out = Vec::with_capacity(records.len());
    for record in records {
        out.push(record_out(catalog, record, &mut names).await?);
    }
    Ok(out)
}

/// A single record: 200 (or `status`) with its ETag.
pub async fn entity_response(
    catalog: &Catalog,
    record: &Record,
    status: StatusCode,
) -> Result<Response, ApiError> {
    // The list's path: the record is serialised straight into the body, not through a `Value`.
    let mut out = records_out(catalog, std::slice::from_ref(record)).await?;
    let body = out
        .pop()
        .ok_or_else(|| ApiError::internal("a record produced no body"))?;
    let mut response = json_response(status, &body);
    response
        .headers_mut()
        .insert(header::ETAG, etag(record.version()));
    Ok(response)
}

/// 201 Created with the record, its ETag and its `Location`.
pub async fn created_response(
    catalog: &Catalog,
    record: &Record,
    collection: &str,
) -> Result<Response, ApiError> {
    let mut response = entity_response(catalog, record, StatusCode::CREATED).await?;
    if let Some(loc) = location(&format!("{collection}/{}", record.id())) {
        response.headers_mut().insert(header::LOCATION, loc);
    }
    Ok(response)
}

/// An audit entry as an entity's history shows it (without the payload).
pub fn history_json(entry: &AuditEntry) -> Value {
    json!({
        "seq": entry.seq,
        "entity_id": entry.entity_id,
        "entity_type": entry.entity_type,
        "version": entry.entity_version,
        "action": entry.action,
        "actor": entry.actor,
        "at": entry.at,
        "hash": entry.hash,
        "prev_hash": entry.prev_hash,
    })
}

/// The keyset cursor of a record: `<created_at micros>_<id>`.
pub fn cursor_of(record: &Record) -> String {
    format!("{}_{}", record.created_at().micros(), record.id())
}

/// Parses an `after` cursor: 422 when it is not one of ours.
pub fn parse_cursor(text: &str) -> Result<(Timestamp, Uuid), ApiError> {
    let bad = || ApiError::invalid_field("after", "must be a cursor from a Link header");
    let (micros, id) = text.split_once('_').ok_or_else(bad)?;
    let at = micros
        .parse::<i64>()
        .ok()
        .and_then(Timestamp::from_micros)
        .ok_or_else(bad)?;
    let id = Uuid::parse_str(id).map_err(|_| bad())?;
    Ok((at, id))
}

/// Whether a record is active (catalog kinds), for filters that default to active.
pub fn is_active(record: &Record) -> bool {
    record.base().is_some_and(|b| b.status == Status::Active)
}
