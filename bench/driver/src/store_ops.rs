//! The database ceiling: each read's SQL and the audited writes, through plant-core's PostgreSQL
//! store with the server's pool size, without HTTP.

use std::str::FromStr;
use std::sync::Arc;

use plant_core::input::{SkillInput, TrialInput};
use plant_core::model::{Kind, Record};
use plant_core::search::{Embedding, HashingEmbedder};
use plant_core::store::postgres::{PgConfig, PgStore};
use plant_core::store::{ListQuery, SearchFilter};
use plant_core::{Catalog, Error};
use serde_json::{Value, json};
use uuid::Uuid;

/// The server's default page size for lists.
pub const LIST_LIMIT: u64 = 100;
/// The server's largest (and default) audit export page.
pub const EXPORT_LIMIT: u64 = 1000;
/// Hits a search returns by default.
pub const SEARCH_K: usize = 10;

/// The agents list as plain columns, with the industry's name joined in: what the list could
/// read instead of a `jsonb_build_object` per row plus one lookup per industry.
pub const AGENTS_COLUMNS: &str = "select b.id, b.entity_type, b.external_id, b.created_at, \
    b.updated_at, b.deleted_at, b.status, b.version, b.version_hash, b.amendment_history, \
    b.l0_compliance_status, b.amendment_alignment, b.certification, b.append_only, \
    b.tamper_proof, b.hash_chain_sha256, b.tags, b.custom_attributes, b.governance_notes, \
    b.parent_id, b.child_ids, b.governance_agent_id, k.name, k.description, k.skill_id, \
    k.job_role_id, k.team_id, k.industry_id, lower(i.name) as industry \
    from agent k join base_entity b on b.id = k.id join industry i on i.id = k.industry_id \
    order by b.created_at, b.id limit $1";

/// One operation of the database ceiling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `GET /agents`: the list query alone.
    Agents,
    /// `GET /agents` as the handler does it: the list query, one lookup per distinct industry,
    /// and the JSON body.
    AgentsServed,
    /// The proposed agents-list query: plain columns (no `jsonb_build_object`) and the industry
    /// name joined in; rows fetched, not decoded. Compare with [`Op::Agents`].
    AgentsColumns,
    /// `GET /agents/{id}`: one agent by id.
    Agent,
    /// `GET /genesis/skills`: the list query.
    Skills,
    /// `GET /genesis/job-roles`: the list query.
    JobRoles,
    /// `GET /audit/export`: the first page of entries.
    AuditExport,
    /// `GET /search`: the vector query (the text embedded once, up front).
    Search,
    /// `POST /genesis/skills`: validate, embed, commit under the chain head.
    InsertSkill,
    /// `POST /trials`: read the agent, commit the trial under the chain head.
    BookTrial,
}

impl FromStr for Op {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "agents" => Op::Agents,
            "agents-served" => Op::AgentsServed,
            "agents-columns" => Op::AgentsColumns,
            "agent" => Op::Agent,
            "skills" => Op::Skills,
            "job-roles" => Op::JobRoles,
            "audit-export" => Op::AuditExport,
            "search" => Op::Search,
            "post-skill" => Op::InsertSkill,
            "post-trial" => Op::BookTrial,
            other => return Err(format!("unknown operation {other:?}")),
        })
    }
}

/// What the operations run against.
#[derive(Debug, Clone)]
pub struct Target {
    catalog: Catalog,
    pool: sqlx::PgPool,
    agent_id: Uuid,
    query_vector: Arc<Embedding>,
    run_tag: String,
}

impl Target {
    /// Connects with a pool of `pool_size` (the server's), picks the first agent, and embeds
    /// `search_text` once.
    pub async fn connect(url: &str, pool_size: u32, search_text: &str) -> Result<Self, Error> {
        let mut config = PgConfig::new(url);
        config.max_connections = pool_size;
        config.application_name = "plant-bench".into();
        let store = PgStore::connect(&config)
            .await
            .map_err(|e| Error::Internal(e.to_string()))?;
        let pool = store.pool().clone();
        let catalog = Catalog::new(Arc::new(store), Arc::new(HashingEmbedder));
        let agent_id = catalog
            .list(&ListQuery::of(Kind::Agent, 1))
            .await?
            .first()
            .map(Record::id)
            .ok_or_else(|| Error::Internal("the catalog has no agent: seed it first".into()))?;
        let query_vector = catalog
            .embed(vec![search_text.to_owned()])
            .await?
            .pop()
            .ok_or_else(|| Error::Internal("the embedder returned no vector".into()))?;
        let run_tag = format!(
            "{}-{}",
            std::process::id(),
            Uuid::new_v4().simple().to_string().get(..8).unwrap_or("0")
        );
        Ok(Self {
            catalog,
            pool,
            agent_id,
            query_vector: Arc::new(query_vector),
            run_tag,
        })
    }

    /// Runs operation number `n` of `op`.
    pub async fn run(&self, op: Op, n: u64) -> Result<(), Error> {
        let store = self.catalog.store();
        match op {
            Op::Agents => drop(store.list(&ListQuery::of(Kind::Agent, LIST_LIMIT)).await?),
            Op::AgentsServed => drop(self.agents_served().await?),
            Op::AgentsColumns => {
                let rows = sqlx::query(AGENTS_COLUMNS)
                    .bind(i64::try_from(LIST_LIMIT).unwrap_or(i64::MAX))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(|e| Error::Internal(e.to_string()))?;
                drop(rows);
            }
            Op::Agent => drop(store.get(Some(Kind::Agent), self.agent_id).await?),
            Op::Skills => drop(store.list(&ListQuery::of(Kind::Skill, LIST_LIMIT)).await?),
            Op::JobRoles => drop(
                store
                    .list(&ListQuery::of(Kind::JobRole, LIST_LIMIT))
                    .await?,
            ),
            Op::AuditExport => drop(store.audit_entries(0, EXPORT_LIMIT).await?),
            Op::Search => drop(
                store
                    .search(&self.query_vector, &SearchFilter::default(), SEARCH_K)
                    .await?,
            ),
            Op::InsertSkill => {
                let input = SkillInput {
                    name: Some(format!("bench-driver-skill-{}-{n}", self.run_tag)),
                    description: Some("A skill created by the benchmark driver.".into()),
                    category: Some("technical".into()),
                    ..SkillInput::default()
                };
                drop(self.catalog.create_skill(&input, "plant-bench").await?);
            }
            Op::BookTrial => {
                let input = TrialInput {
                    agent_id: Some(self.agent_id.to_string()),
                    customer_name: Some("Bench Customer".into()),
                    customer_email: Some(format!("driver-{}-{n}@bench.example", self.run_tag)),
                    company: Some("Bench Ltd".into()),
                    phone: None,
                };
                drop(self.catalog.book_trial(&input, "plant-bench").await?);
            }
        }
        Ok(())
    }

    /// The agents list as the server's handler builds it: the page, the industry name of each
    /// agent (looked up once per distinct industry), then the JSON bytes.
    async fn agents_served(&self) -> Result<Vec<u8>, Error> {
        let store = self.catalog.store();
        let records = store.list(&ListQuery::of(Kind::Agent, LIST_LIMIT)).await?;
        let mut names: std::collections::HashMap<Uuid, Option<String>> = Default::default();
        let mut out = Vec::with_capacity(records.len());
        for record in &records {
            let mut value = serde_json::to_value(record)
                .map_err(|e| Error::Internal(format!("serialise: {e}")))?;
            if let Record::Agent(agent) = record {
                let industry = agent.body.industry_id;
                if let std::collections::hash_map::Entry::Vacant(slot) = names.entry(industry) {
                    let name = store
                        .get(Some(Kind::Industry), industry)
                        .await?
                        .and_then(|r| r.name().map(|n| n.as_str().to_lowercase()));
                    slot.insert(name);
                }
                if let Value::Object(map) = &mut value {
                    map.insert(
                        "industry".into(),
                        json!(names.get(&industry).cloned().flatten()),
                    );
                }
            }
            out.push(value);
        }
        serde_json::to_vec(&out).map_err(|e| Error::Internal(format!("serialise: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_name_parses() {
        for name in [
            "agents",
            "agents-served",
            "agents-columns",
            "agent",
            "skills",
            "job-roles",
            "audit-export",
            "search",
            "post-skill",
            "post-trial",
        ] {
            assert!(name.parse::<Op>().is_ok(), "{name}");
        }
        assert!("nope".parse::<Op>().is_err());
    }
}
