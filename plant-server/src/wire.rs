//! Response bodies: records as the portals read them.
//!
//! A catalog entity is its flat JSON form (the seven base sections and the kind's fields), so the
//! clients' fields (`id`, `name`, `description`, `category`, `required_skills`, …) are all there;
//! agents add `industry` (the industry's name, lowercase), teams add `agents` (their members),
//! trials add `days_remaining`.

use std::collections::HashMap;

use http::{StatusCode, header};
use plant_core::Catalog;
use plant_core::Timestamp;
use plant_core::audit::AuditEntry;
use plant_core::model::{Agent, Entity, Kind, Record, Status, Trial};
use plant_core::store::ListQuery;
use serde::{Serialize, Serializer};
use serde_json::{Map, Value, json};
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

fn object(record: &Record) -> Result<Map<String, Value>, ApiError> {
    match serde_json::to_value(record).map_err(ApiError::internal)? {
        Value::Object(map) => Ok(map),
        _ => Err(ApiError::internal(
            "a record did not serialise to an object",
        )),
    }
}

/// A record's JSON with the additions its kind gets.
pub async fn record_json(
    catalog: &Catalog,
    record: &Record,
    names: &mut Names,
) -> Result<Value, ApiError> {
    let mut map = object(record)?;
    match record {
        Record::Agent(agent) => add_agent_fields(catalog, agent, &mut map, names).await?,
        Record::Team(team) => {
            let query = ListQuery {
                team_id: Some(team.base.id),
                ..ListQuery::of(Kind::Agent, 1000)
            };
            let members = catalog.list(&query).await?;
            let agents: Vec<Value> = members
                .iter()
                .filter_map(|m| match m {
                    Record::Agent(a) => Some(json!({
                        "id": a.base.id,
                        "name": a.body.name,
                        "status": a.base.status,
                        "job_role_id": a.body.job_role_id,
                    })),
                    _ => None,
                })
                .collect();
            map.insert("agents".into(), Value::Array(agents));
        }
        Record::Trial(trial) => {
            map.insert(
                "days_remaining".into(),
                json!(trial.days_remaining(Timestamp::now())),
            );
        }
        _ => {}
    }
    Ok(Value::Object(map))
}

async fn add_agent_fields(
    catalog: &Catalog,
    agent: &Entity<Agent>,
    map: &mut Map<String, Value>,
    names: &mut Names,
) -> Result<(), ApiError> {
    let industry = names
        .name(catalog, Kind::Industry, agent.body.industry_id)
        .await?;
    map.insert("industry".into(), json!(industry.map(|n| n.to_lowercase())));
    Ok(())
}

/// A trial's JSON (with `days_remaining`).
pub fn trial_json(trial: &Trial) -> Result<Value, ApiError> {
    let mut map = match serde_json::to_value(trial).map_err(ApiError::internal)? {
        Value::Object(map) => map,
        _ => return Err(ApiError::internal("a trial did not serialise to an object")),
    };
    map.insert(
        "days_remaining".into(),
        json!(trial.days_remaining(Timestamp::now())),
    );
    Ok(Value::Object(map))
}

/// Several records' JSON.
pub async fn records_json(catalog: &Catalog, records: &[Record]) -> Result<Vec<Value>, ApiError> {
    let mut names = Names::prefetch(catalog, records).await?;
    let mut out = Vec::with_capacity(records.len());
    for record in records {
        out.push(record_json(catalog, record, &mut names).await?);
    }
    Ok(out)
}

/// One record of a list body, serialised straight into the response: the same fields as
/// [`record_json`], without building a `Value` first (except for teams and trials, whose
/// additions need one).
#[derive(Debug)]
pub enum RecordOut<'a> {
    /// An agent and its industry's name (lowercase).
    Agent(&'a Entity<Agent>, Option<String>),
    /// A record with nothing added.
    Plain(&'a Record),
    /// A record with additions, as built by [`record_json`].
    Built(Value),
}

#[derive(Serialize)]
struct AgentOut<'a> {
    #[serde(flatten)]
    agent: &'a Entity<Agent>,
    industry: &'a Option<String>,
}

impl Serialize for RecordOut<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            RecordOut::Agent(agent, industry) => AgentOut { agent, industry }.serialize(serializer),
            RecordOut::Plain(record) => record.serialize(serializer),
            RecordOut::Built(value) => value.serialize(serializer),
        }
    }
}

/// A list body: every record as [`record_json`] shows it, the referenced names fetched in one
/// store call.
pub async fn records_out<'a>(
    catalog: &Catalog,
    records: &'a [Record],
) -> Result<Vec<RecordOut<'a>>, ApiError> {
    let mut names = Names::prefetch(catalog, records).await?;
    let mut out = Vec::with_capacity(records.len());
    for record in records {
        out.push(match record {
            Record::Agent(agent) => {
                let industry = names
                    .name(catalog, Kind::Industry, agent.body.industry_id)
                    .await?;
                RecordOut::Agent(agent, industry.map(|n| n.to_lowercase()))
            }
            Record::Team(_) | Record::Trial(_) => {
                RecordOut::Built(record_json(catalog, record, &mut names).await?)
            }
            _ => RecordOut::Plain(record),
        });
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
