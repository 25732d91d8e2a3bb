//! Catalog records read as plain columns (`sql.rs`'s `base_columns!` and each kind's own), decoded
//! with `sqlx::FromRow` straight into [`Entity`]: no JSON object is built in the database and
//! none is parsed twice in the client. The JSON columns (history, certification, compliance,
//! hash chain, custom attributes) are decoded into their model types in one serde pass.
//!
//! Every text field goes through the same checks as the model's own deserialisation
//! (`Name::parse`, `Description::parse`, the closed sets' `FromStr`), so a row reads back exactly
//! as the JSON path would have read it.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use sqlx::FromRow;
use sqlx::postgres::PgRow;
use sqlx::types::Json;
use uuid::Uuid;

use super::write::to_u64;
use crate::Timestamp;
use crate::audit::Hash;
use crate::error::Cause;
use crate::model::{
    Agent, Amendment, Base, Certification, Description, Entity, Industry, JobRole, Kind, Name,
    Record, Skill, Team,
};
use crate::store::{StoreError, StoreResult};

/// The base sections of a catalog row, in `base_entity`'s column names.
#[derive(Debug, FromRow)]
struct BaseRow {
    id: Uuid,
    entity_type: String,
    external_id: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    deleted_at: Option<DateTime<Utc>>,
    status: String,
    version: i64,
    version_hash: Vec<u8>,
    amendment_history: Json<Vec<Amendment>>,
    l0_compliance_status: Json<BTreeMap<String, bool>>,
    amendment_alignment: String,
    certification: Json<Certification>,
    append_only: bool,
    tamper_proof: bool,
    hash_chain_sha256: Json<Vec<Hash>>,
    tags: Vec<String>,
    custom_attributes: Json<Map<String, Value>>,
    governance_notes: Option<String>,
    parent_id: Option<Uuid>,
    child_ids: Vec<Uuid>,
    governance_agent_id: Option<String>,
}

fn bad(id: Uuid, what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Internal(Cause::from(format!(
        "stored record {id} does not read back: {what}: {e}"
    )))
}

impl BaseRow {
    fn into_base(self) -> StoreResult<Base> {
        let id = self.id;
        let hash = <[u8; 32]>::try_from(self.version_hash.as_slice())
            .map(Hash)
            .map_err(|_| bad(id, "version_hash", "not 32 bytes"))?;
        Ok(Base {
            id,
            entity_type: self
                .entity_type
                .parse()
                .map_err(|e| bad(id, "entity_type", e))?,
            external_id: self.external_id,
            created_at: Timestamp::from_datetime(self.created_at),
            updated_at: Timestamp::from_datetime(self.updated_at),
            deleted_at: self.deleted_at.map(Timestamp::from_datetime),
            status: self.status.parse().map_err(|e| bad(id, "status", e))?,
            version: to_u64(self.version, "base_entity.version")?,
            version_hash: Some(hash),
            amendment_history: self.amendment_history.0,
            l0_compliance_status: self.l0_compliance_status.0,
            amendment_alignment: self
                .amendment_alignment
                .parse()
                .map_err(|e| bad(id, "amendment_alignment", e))?,
            certification: self.certification.0,
            append_only: self.append_only,
            tamper_proof: self.tamper_proof,
            hash_chain_sha256: self.hash_chain_sha256.0,
            tags: self.tags,
            custom_attributes: self.custom_attributes.0,
            governance_notes: self.governance_notes,
            parent_id: self.parent_id,
            child_ids: self.child_ids,
            governance_agent_id: self.governance_agent_id,
        })
    }
}

fn name(id: Uuid, text: &str) -> StoreResult<Name> {
    Name::parse(text).map_err(|e| bad(id, "name", e))
}

fn description(id: Uuid, text: &str) -> StoreResult<Description> {
    Description::parse(text).map_err(|e| bad(id, "description", e))
}

#[derive(Debug, FromRow)]
struct IndustryRow {
    #[sqlx(flatten)]
    base: BaseRow,
    name: String,
    description: String,
}

#[derive(Debug, FromRow)]
struct SkillRow {
    #[sqlx(flatten)]
    base: BaseRow,
    name: String,
    description: String,
    category: String,
}

#[derive(Debug, FromRow)]
struct JobRoleRow {
    #[sqlx(flatten)]
    base: BaseRow,
    name: String,
    description: String,
    seniority_level: String,
    industry_id: Option<Uuid>,
    required_skills: Vec<Uuid>,
}

#[derive(Debug, FromRow)]
struct TeamRow {
    #[sqlx(flatten)]
    base: BaseRow,
    name: String,
    description: String,
    job_role_id: Uuid,
    industry_id: Option<Uuid>,
}

#[derive(Debug, FromRow)]
struct AgentRow {
    #[sqlx(flatten)]
    base: BaseRow,
    name: String,
    description: String,
    skill_id: Uuid,
    job_role_id: Uuid,
    team_id: Option<Uuid>,
    industry_id: Uuid,
}

fn row_error(kind: Kind, e: sqlx::Error) -> StoreError {
    StoreError::Internal(Cause::from(format!(
        "stored {kind} row does not read back: {e}"
    )))
}

/// A catalog kind's record from a row of its plain-column select; `None` for the kinds that are
/// still read as one JSON column (trials, jobs, precedent seeds).
pub(super) fn catalog_record(kind: Kind, row: &PgRow) -> Option<StoreResult<Record>> {
    let fail = |e| row_error(kind, e);
    Some(match kind {
        Kind::Industry => IndustryRow::from_row(row).map_err(fail).and_then(|r| {
            let id = r.base.id;
            Ok(Record::Industry(Entity {
                body: Industry {
                    name: name(id, &r.name)?,
                    description: description(id, &r.description)?,
                },
                base: r.base.into_base()?,
            }))
        }),
        Kind::Skill => SkillRow::from_row(row).map_err(fail).and_then(|r| {
            let id = r.base.id;
            Ok(Record::Skill(Entity {
                body: Skill {
                    name: name(id, &r.name)?,
                    description: description(id, &r.description)?,
                    category: r.category.parse().map_err(|e| bad(id, "category", e))?,
                },
                base: r.base.into_base()?,
            }))
        }),
        Kind::JobRole => JobRoleRow::from_row(row).map_err(fail).and_then(|r| {
            let id = r.base.id;
            Ok(Record::JobRole(Entity {
                body: JobRole {
                    name: name(id, &r.name)?,
                    description: description(id, &r.description)?,
                    required_skills: r.required_skills,
                    seniority_level: r
                        .seniority_level
                        .parse()
                        .map_err(|e| bad(id, "seniority_level", e))?,
                    industry_id: r.industry_id,
                },
                base: r.base.into_base()?,
            }))
        }),
        Kind::Team => TeamRow::from_row(row).map_err(fail).and_then(|r| {
            let id = r.base.id;
            Ok(Record::Team(Entity {
                body: Team {
                    name: name(id, &r.name)?,
                    description: description(id, &r.description)?,
                    job_role_id: r.job_role_id,
                    industry_id: r.industry_id,
                },
                base: r.base.into_base()?,
            }))
        }),
        Kind::Agent => AgentRow::from_row(row).map_err(fail).and_then(|r| {
            let id = r.base.id;
            Ok(Record::Agent(Entity {
                body: Agent {
                    name: name(id, &r.name)?,
                    description: description(id, &r.description)?,
                    skill_id: r.skill_id,
                    job_role_id: r.job_role_id,
                    team_id: r.team_id,
                    industry_id: r.industry_id,
                },
                base: r.base.into_base()?,
            }))
        }),
        Kind::Trial | Kind::Job | Kind::PrecedentSeed => return None,
    })
}
