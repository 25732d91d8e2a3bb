//! The database ceiling: the store calls each endpoint's handler makes, without HTTP. The
//! catalog reads go through the read model over PostgreSQL, as the server's do; search, the
//! audit export and the audited writes go to plant-core's PostgreSQL store with the server's
//! pool size.

use std::str::FromStr;
use std::sync::Arc;

use plant_core::error::Cause;
use plant_core::input::{SkillInput, TrialInput};
use plant_core::model::{Kind, Record};
use plant_core::read_model::{ReadModelOptions, ReadModelStore};
use plant_core::search::Embedder;
use plant_core::store::postgres::{PgConfig, PgStore};
use plant_core::store::{ListQuery, SearchFilter, SearchMode, Store};
use plant_core::{Catalog, Error};
use uuid::Uuid;

/// The server's default page size for lists.
pub const LIST_LIMIT: u64 = 100;
/// The server's largest (and default) audit export page.
pub const EXPORT_LIMIT: u64 = 1000;
/// How many skills [`Op::CertifySkill`] takes turns on.
const CERTIFIED_SKILLS: u64 = 10_000;
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

/// The agents list as the store read it before it selected plain columns: a `jsonb_build_object`
/// per row, decoded to a `serde_json::Value` and then to the record (kept to compare with
/// [`Op::Agents`] in the same run).
pub const AGENTS_JSONB: &str = "select jsonb_build_object(\
    'id', b.id, 'entity_type', b.entity_type, 'external_id', b.external_id, \
    'created_at', b.created_at, 'updated_at', b.updated_at, 'deleted_at', b.deleted_at, \
    'status', b.status, 'version', b.version, 'version_hash', encode(b.version_hash, 'hex'), \
    'amendment_history', b.amendment_history, \
    'l0_compliance_status', b.l0_compliance_status, \
    'amendment_alignment', b.amendment_alignment, 'certification', b.certification, \
    'append_only', b.append_only, 'tamper_proof', b.tamper_proof, \
    'hash_chain_sha256', b.hash_chain_sha256, 'tags', to_jsonb(b.tags), \
    'custom_attributes', b.custom_attributes, 'governance_notes', b.governance_notes, \
    'parent_id', b.parent_id, 'child_ids', to_jsonb(b.child_ids), \
    'governance_agent_id', b.governance_agent_id) \
    || jsonb_build_object('name', k.name, 'description', k.description, \
    'skill_id', k.skill_id, 'job_role_id', k.job_role_id, 'team_id', k.team_id, \
    'industry_id', k.industry_id) \
    from agent k join base_entity b on b.id = k.id order by b.created_at, b.id limit $1";

/// One operation of the database ceiling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `GET /agents` (100 per page, the default): the handler's store calls (on the read
    /// model): the list, then the names of the industries it references.
    Agents,
    /// `GET /agents?limit=50`: the same, 50 per page.
    Agents50,
    /// `GET /agents` as the handler does it: the list query, one query for the industries'
    /// names, and the JSON body.
    AgentsServed,
    /// The agents list in one query: plain columns with the industry name joined in; rows
    /// fetched, not decoded (the lower bound of [`Op::Agents`], which decodes them).
    AgentsColumns,
    /// The agents list query as it was before plain columns ([`AGENTS_JSONB`]), decoded the
    /// same way as then.
    AgentsJsonb,
    /// `GET /agents/{id}`: the handler's SQL: the agent by id, then its industry's name.
    Agent,
    /// `GET /genesis/skills`: the list query.
    Skills,
    /// `GET /genesis/job-roles`: the list query.
    JobRoles,
    /// `GET /audit/export`: the first page of entries.
    AuditExport,
    /// `GET /audit/export` as the handler does it: the page, then its JSON bytes.
    AuditExportServed,
    /// `GET /search` as the handler does it (hybrid, the default mode): the text embedded on
    /// every call with the process's embedder, its full-text terms, then the fused query.
    Search,
    /// The same with the embedder `--embed-model-dir` names (MiniLM).
    SearchEmbedded,
    /// `POST /genesis/skills`: validate, embed, commit under the chain head.
    InsertSkill,
    /// `POST /trials`: read the agent, commit the trial under the chain head.
    BookTrial,
    /// `POST /genesis/skills/{id}/certify` on the skills in turn (the first 10,000, so that no
    /// two operations in flight certify the same one): an update that leaves the skill's own
    /// columns, and its vector, as they were.
    CertifySkill,
}

impl FromStr for Op {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "agents" => Op::Agents,
            "agents-50" => Op::Agents50,
            "agents-served" => Op::AgentsServed,
            "agents-columns" => Op::AgentsColumns,
            "agents-jsonb" => Op::AgentsJsonb,
            "agent" => Op::Agent,
            "skills" => Op::Skills,
            "job-roles" => Op::JobRoles,
            "audit-export" => Op::AuditExport,
            "audit-export-served" => Op::AuditExportServed,
            "search" => Op::Search,
            "search-embedded" => Op::SearchEmbedded,
            "post-skill" => Op::InsertSkill,
            "post-trial" => Op::BookTrial,
            "certify-skill" => Op::CertifySkill,
            other => return Err(format!("unknown operation {other:?}")),
        })
    }
}

/// What the operations run against.
#[derive(Debug, Clone)]
pub struct Target {
    catalog: Catalog,
    /// The read model over the same store: what the server's catalog reads go to.
    reads: Arc<dyn Store>,
    pool: sqlx::PgPool,
    agent_id: Uuid,
    search_text: Arc<str>,
    run_tag: String,
    /// The skills [`Op::CertifySkill`] certifies, read on its first call.
    skills: tokio::sync::OnceCell<Vec<Uuid>>,
}

impl Target {
    /// Connects with a pool of `pool_size` (the server's), builds the read model over it, and
    /// picks the first agent; searches embed `search_text` with `embedder` on every call.
    pub async fn connect(
        url: &str,
        pool_size: u32,
        search_text: &str,
        embedder: Arc<dyn Embedder>,
    ) -> Result<Self, Error> {
        let mut config = PgConfig::new(url);
        config.max_connections = pool_size;
        config.application_name = "plant-bench".into();
        let store = PgStore::connect(&config)
            .await
            .map_err(|e| Error::Internal(Cause::with("connecting the store", e)))?;
        let pool = store.pool().clone();
        let store: Arc<dyn Store> = Arc::new(store);
        let reads: Arc<dyn Store> =
            Arc::new(ReadModelStore::start(store.clone(), ReadModelOptions::default()).await?);
        // The server's catalog is over the read model too: a trial booking reads its agent
        // from memory, a create waits for the model to fold its entry. Over the bare store
        // the loop read the agent from PostgreSQL on every booking and ran slower than the
        // server it is the ceiling of.
        let catalog = Catalog::new(reads.clone(), embedder);
        let agent_id = catalog
            .list(&ListQuery::of(Kind::Agent, 1))
            .await?
            .first()
            .map(Record::id)
            .ok_or_else(|| Error::Internal("the catalog has no agent: seed it first".into()))?;
        let run_tag = format!(
            "{}-{}",
            std::process::id(),
            Uuid::new_v4().simple().to_string().get(..8).unwrap_or("0")
        );
        Ok(Self {
            catalog,
            reads,
            pool,
            agent_id,
            search_text: search_text.into(),
            run_tag,
            skills: tokio::sync::OnceCell::new(),
        })
    }

    /// Waits until the vectors of the records written so far are stored.
    pub async fn vectors_settled(&self) {
        self.catalog.vectors_settled().await;
    }

    /// Runs operation number `n` of `op`.
    pub async fn run(&self, op: Op, n: u64) -> Result<(), Error> {
        let store = self.catalog.store();
        let reads = &self.reads;
        match op {
            Op::Agents | Op::Agents50 => {
                let limit = if op == Op::Agents50 { 50 } else { LIST_LIMIT };
                let records = reads.list(&ListQuery::of(Kind::Agent, limit)).await?;
                drop(self.industry_names(&records).await?);
            }
            Op::AgentsServed => drop(self.agents_served().await?),
            Op::AgentsColumns => {
                let rows = sqlx::query(AGENTS_COLUMNS)
                    .bind(i64::try_from(LIST_LIMIT).unwrap_or(i64::MAX))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(|e| Error::Internal(Cause::with("the list query", e)))?;
                drop(rows);
            }
            Op::AgentsJsonb => {
                let rows: Vec<sqlx::types::Json<serde_json::Value>> =
                    sqlx::query_scalar(AGENTS_JSONB)
                        .bind(i64::try_from(LIST_LIMIT).unwrap_or(i64::MAX))
                        .fetch_all(&self.pool)
                        .await
                        .map_err(|e| Error::Internal(Cause::with("the list query", e)))?;
                for sqlx::types::Json(value) in rows {
                    drop(
                        Record::from_json(Kind::Agent, value)
                            .map_err(|e| Error::Internal(Cause::with("decoding an agent", e)))?,
                    );
                }
            }
            Op::Agent => {
                let record = reads
                    .get(Some(Kind::Agent), self.agent_id)
                    .await?
                    .ok_or_else(|| Error::Internal("the agent is gone".into()))?;
                drop(self.industry_names(std::slice::from_ref(&record)).await?);
            }
            Op::Skills => drop(reads.list(&ListQuery::of(Kind::Skill, LIST_LIMIT)).await?),
            Op::JobRoles => drop(
                reads
                    .list(&ListQuery::of(Kind::JobRole, LIST_LIMIT))
                    .await?,
            ),
            Op::AuditExport => drop(store.audit_entries(0, EXPORT_LIMIT).await?),
            Op::AuditExportServed => {
                let entries = store.audit_entries(0, EXPORT_LIMIT).await?;
                drop(plant_core::audit::AuditEntry::list_json(&entries));
            }
            Op::Search | Op::SearchEmbedded => drop(
                self.catalog
                    .search_mode(
                        &self.search_text,
                        SearchMode::Hybrid,
                        &SearchFilter::default(),
                        SEARCH_K,
                    )
                    .await?,
            ),
            Op::InsertSkill => {
                // The same text as bench/lua/post-skill.lua sends, so that the vectors (and
                // the HNSW insertions they cost) are alike.
                let input = SkillInput {
                    name: Some(format!("bench {} 1 {n}", self.run_tag)),
                    description: Some("A skill created by the benchmark.".into()),
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
            Op::CertifySkill => {
                let skills = self
                    .skills
                    .get_or_try_init(|| async {
                        let query = ListQuery::of(Kind::Skill, CERTIFIED_SKILLS);
                        let ids: Vec<Uuid> =
                            reads.list(&query).await?.iter().map(Record::id).collect();
                        Ok::<_, Error>(ids)
                    })
                    .await?;
                let count = u64::try_from(skills.len()).unwrap_or(u64::MAX);
                let Some(&id) = usize::try_from(n % count.max(1))
                    .ok()
                    .and_then(|i| skills.get(i))
                else {
                    return Err(Error::Internal("the catalog has no skill".into()));
                };
                drop(self.catalog.certify(Kind::Skill, id, "plant-bench").await?);
            }
        }
        Ok(())
    }

    /// The names of the industries `records` reference, in one store call (as the handlers).
    async fn industry_names(
        &self,
        records: &[Record],
    ) -> Result<std::collections::HashMap<Uuid, String>, Error> {
        let ids = Record::agent_industry_ids(records);
        Ok(self.reads.names(Kind::Industry, &ids).await?)
    }

    /// The agents list as the server's handler builds it: the page, the names of the industries
    /// it references (one store call), then the JSON bytes, written once.
    async fn agents_served(&self) -> Result<Vec<u8>, Error> {
        #[derive(serde::Serialize)]
        struct AgentOut<'a> {
            #[serde(flatten)]
            agent: &'a plant_core::model::Entity<plant_core::model::Agent>,
            industry: Option<String>,
        }
        let records = self
            .reads
            .list(&ListQuery::of(Kind::Agent, LIST_LIMIT))
            .await?;
        let names = self.industry_names(&records).await?;
        let out: Vec<AgentOut<'_>> = records
            .iter()
            .filter_map(|r| match r {
                Record::Agent(agent) => Some(AgentOut {
                    agent,
                    industry: names.get(&agent.body.industry_id).map(|n| n.to_lowercase()),
                }),
                _ => None,
            })
            .collect();
        serde_json::to_vec(&out).map_err(|e| Error::Internal(Cause::with("serialise", e)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_name_parses() {
        for name in [
            "agents",
            "agents-50",
            "agents-served",
            "agents-columns",
            "agents-jsonb",
            "agent",
            "skills",
            "job-roles",
            "audit-export",
            "audit-export-served",
            "search",
            "search-embedded",
            "post-skill",
            "post-trial",
            "certify-skill",
        ] {
            assert!(name.parse::<Op>().is_ok(), "{name}");
        }
        assert!("nope".parse::<Op>().is_err());
    }
}
