//! Loading a synthetic catalog: the seed through the catalog, then synthetic agents in bulk.
//!
//! The seed (industries, skills, job roles, teams, 50 agents) goes through `seed::load`, the
//! audited path the application uses. The synthetic agents are then written straight into
//! `base_entity` and `agent` with batched `insert ... select from unnest(...)`: each base row is
//! a copy of a seeded agent's base row (status, certification, version) with a new id and the tag
//! `synthetic`, and each agent row carries its generated name and description, the seed agent's
//! job role / skill / industry / team, and its embedding with the embedder's model id — the
//! columns search reads. No audit entries are written for them. The HNSW index is dropped before
//! the bulk insert and built again afterwards (see [`build_index`]).

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use plant_core::Catalog;
use plant_core::search::{DIM, Embedder};
use plant_core::seed::{self, SeedCatalog};
use plant_core::store::postgres::{PgConfig, PgStore, migrate};
use sqlx::PgPool;
use uuid::Uuid;

use crate::synth::Synth;
use crate::{BoxResult, log};

const INSERT_BATCH: usize = 2000;
const EMBED_BATCH: usize = 256;

const INSERT_BASE: &str = "insert into base_entity (id, entity_type, external_id, created_at, \
    updated_at, deleted_at, status, version, version_hash, amendment_history, \
    l0_compliance_status, amendment_alignment, certification, append_only, tamper_proof, \
    hash_chain_sha256, tags, custom_attributes, governance_notes, parent_id, child_ids, \
    governance_agent_id) \
    select u.id, t.entity_type, null, t.created_at, t.updated_at, t.deleted_at, t.status, \
    t.version, t.version_hash, t.amendment_history, t.l0_compliance_status, \
    t.amendment_alignment, t.certification, t.append_only, t.tamper_proof, t.hash_chain_sha256, \
    array['synthetic'], t.custom_attributes, t.governance_notes, t.parent_id, t.child_ids, \
    t.governance_agent_id \
    from unnest($1::uuid[]) as u(id) cross join base_entity t where t.id = $2";

const INSERT_AGENT: &str = "insert into agent (id, name, description, skill_id, job_role_id, \
    team_id, industry_id, embedding, embedding_model) \
    select u.id, u.name, u.description, u.skill_id, u.job_role_id, u.team_id, u.industry_id, \
    u.embedding::vector, $9 \
    from unnest($1::uuid[], $2::text[], $3::text[], $4::uuid[], $5::uuid[], $6::uuid[], \
    $7::uuid[], $8::text[]) as u(id, name, description, skill_id, job_role_id, team_id, industry_id, embedding)";

/// The agent index with these parameters (migrations/0006: m = 32, ef_construction = 128;
/// m = 16, ef_construction = 64 is pgvector's default and migrations/0002's).
pub fn index_sql(m: u32, ef_construction: u32) -> String {
    if m == 16 && ef_construction == 64 {
        "create index agent_embedding_idx on agent using hnsw (embedding vector_cosine_ops)".into()
    } else {
        format!(
            "create index agent_embedding_idx on agent using hnsw (embedding vector_cosine_ops) \
             with (m = {m}, ef_construction = {ef_construction})"
        )
    }
}

/// Drops and builds the agent HNSW index; returns the build time in seconds.
pub async fn build_index(pool: &PgPool, m: u32, ef_construction: u32) -> BoxResult<f64> {
    let mut conn = pool.acquire().await?;
    sqlx::query("drop index if exists agent_embedding_idx")
        .execute(&mut *conn)
        .await?;
    sqlx::query("set maintenance_work_mem = '1GB'")
        .execute(&mut *conn)
        .await?;
    sqlx::query("set max_parallel_maintenance_workers = 1")
        .execute(&mut *conn)
        .await?;
    sqlx::query("set statement_timeout = 0")
        .execute(&mut *conn)
        .await?;
    let sql = index_sql(m, ef_construction);
    log(&format!("building: {sql}"));
    let start = Instant::now();
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .execute(&mut *conn)
        .await?;
    let secs = start.elapsed().as_secs_f64();
    sqlx::query("analyze agent").execute(&mut *conn).await?;
    sqlx::query("analyze base_entity")
        .execute(&mut *conn)
        .await?;
    log(&format!("index built in {secs:.1} s"));
    Ok(secs)
}

/// Vectors for agents `0..n`, from the cache file where present, computed and appended otherwise.
fn vectors(
    synth: &Synth,
    embedder: &dyn Embedder,
    cache_dir: &Path,
    n: usize,
) -> BoxResult<(Vec<f32>, f64)> {
    std::fs::create_dir_all(cache_dir)?;
    let path = cache_dir.join(format!("agents-{}.f32", embedder.model_id()));
    let mut data = Vec::new();
    if path.exists() {
        let mut bytes = Vec::new();
        File::open(&path)?.read_to_end(&mut bytes)?;
        let whole = bytes.len() / (DIM * 4) * (DIM * 4);
        data = bytes[..whole]
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
    }
    let cached = data.len() / DIM;
    let mut embed_secs = 0.0;
    if cached < n {
        log(&format!(
            "embedding agents {cached}..{n} with {} (cache {})",
            embedder.model_id(),
            path.display()
        ));
        let mut file = OpenOptions::new().create(true).append(true).open(&path)?;
        file.set_len((cached * DIM * 4) as u64)?;
        let start = Instant::now();
        let mut i = cached;
        while i < n {
            let end = (i + EMBED_BATCH).min(n);
            let texts: Vec<String> = (i..end)
                .map(|j| synth.text(&synth.agent(j as u64)))
                .collect();
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            let vecs = embedder.embed(&refs)?;
            let mut bytes = Vec::with_capacity(vecs.len() * DIM * 4);
            for v in &vecs {
                for x in v.as_slice() {
                    bytes.extend_from_slice(&x.to_le_bytes());
                }
                data.extend_from_slice(v.as_slice());
            }
            file.write_all(&bytes)?;
            i = end;
            if i % 4096 < EMBED_BATCH || i == n {
                let rate = (i - cached) as f64 / start.elapsed().as_secs_f64();
                log(&format!("  {i}/{n} embedded ({rate:.0} texts/s)"));
            }
        }
        embed_secs = start.elapsed().as_secs_f64();
    }
    data.truncate(n * DIM);
    Ok((data, embed_secs))
}

fn vector_text(v: &[f32]) -> String {
    let mut s = String::with_capacity(v.len() * 12);
    s.push('[');
    for (i, x) in v.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&x.to_string());
    }
    s.push(']');
    s
}

async fn ids_by_name(pool: &PgPool, table: &str) -> BoxResult<Vec<(String, Uuid)>> {
    let rows: Vec<(String, Uuid)> =
        sqlx::query_as(sqlx::AssertSqlSafe(format!("select name, id from {table}")))
            .fetch_all(pool)
            .await?;
    Ok(rows)
}

fn find(rows: &[(String, Uuid)], name: &str) -> BoxResult<Uuid> {
    rows.iter()
        .find(|(n, _)| n == name)
        .map(|(_, id)| *id)
        .ok_or_else(|| format!("seeded entity {name:?} not found").into())
}

/// Loads the seed and synthetic agents `existing..n`; rebuilds the index when rows were added
/// or `force_index` is set. Returns a JSON report.
#[allow(clippy::too_many_arguments)]
pub async fn load(
    url: &str,
    n: usize,
    embedder: Arc<dyn Embedder>,
    cache_dir: &Path,
    m: u32,
    ef_construction: u32,
    force_index: bool,
) -> BoxResult<serde_json::Value> {
    migrate(url).await?;
    let store = PgStore::connect(&PgConfig::new(url)).await?;
    let pool = store.pool().clone();
    let seed = SeedCatalog::builtin()?;
    let catalog = Catalog::new(Arc::new(store), embedder.clone());
    let report = seed::load(&catalog, &seed, &mut |_| {}).await?;
    log(&format!("seed: {} changes", report.changes()));

    let synth = Synth::new(&seed);
    let existing: i64 =
        sqlx::query_scalar("select count(*) from base_entity where 'synthetic' = any(tags)")
            .fetch_one(&pool)
            .await?;
    let existing = usize::try_from(existing)?;
    let model: Option<String> = sqlx::query_scalar(
        "select a.embedding_model from agent a join base_entity b on b.id = a.id \
         where 'synthetic' = any(b.tags) limit 1",
    )
    .fetch_optional(&pool)
    .await?
    .flatten();
    if let Some(model) = model
        && model != embedder.model_id()
    {
        return Err(format!(
            "the database holds synthetic agents embedded with {model}, not {}; use a fresh \
             database",
            embedder.model_id()
        )
        .into());
    }
    let (vectors, embed_secs) = vectors(&synth, embedder.as_ref(), cache_dir, n)?;

    let mut insert_secs = 0.0;
    if existing < n {
        let industries = ids_by_name(&pool, "industry").await?;
        let skills = ids_by_name(&pool, "skill").await?;
        let roles = ids_by_name(&pool, "job_role").await?;
        let teams = ids_by_name(&pool, "team").await?;
        let mut refs = Vec::new();
        for p in &synth.profiles {
            let team = match &p.team {
                Some(t) => Some(find(&teams, t)?),
                None => None,
            };
            refs.push((
                find(&skills, &p.skill)?,
                find(&roles, &p.role)?,
                team,
                find(&industries, &p.industry)?,
            ));
        }
        let template: Uuid = sqlx::query_scalar(
            "select id from base_entity where entity_type = 'Agent' and status = 'active' \
             and not 'synthetic' = any(tags) order by created_at, id limit 1",
        )
        .fetch_one(&pool)
        .await?;

        sqlx::query("drop index if exists agent_embedding_idx")
            .execute(&pool)
            .await?;
        log(&format!("inserting agents {existing}..{n}"));
        let start = Instant::now();
        let mut i = existing;
        while i < n {
            let end = (i + INSERT_BATCH).min(n);
            let agents: Vec<_> = (i..end).map(|j| synth.agent(j as u64)).collect();
            let ids: Vec<Uuid> = agents.iter().map(|a| a.id).collect();
            let names: Vec<String> = agents.iter().map(|a| a.name.clone()).collect();
            let descriptions: Vec<String> = agents.iter().map(|a| a.description.clone()).collect();
            let skill_ids: Vec<Uuid> = agents.iter().map(|a| refs[a.profile].0).collect();
            let role_ids: Vec<Uuid> = agents.iter().map(|a| refs[a.profile].1).collect();
            let team_ids: Vec<Option<Uuid>> = agents.iter().map(|a| refs[a.profile].2).collect();
            let industry_ids: Vec<Uuid> = agents.iter().map(|a| refs[a.profile].3).collect();
            let embeddings: Vec<String> = (i..end)
                .map(|j| vector_text(&vectors[j * DIM..(j + 1) * DIM]))
                .collect();
            let mut tx = pool.begin().await?;
            sqlx::query(INSERT_BASE)
                .bind(&ids)
                .bind(template)
                .execute(&mut *tx)
                .await?;
            sqlx::query(INSERT_AGENT)
                .bind(&ids)
                .bind(&names)
                .bind(&descriptions)
                .bind(&skill_ids)
                .bind(&role_ids)
                .bind(&team_ids)
                .bind(&industry_ids)
                .bind(&embeddings)
                .bind(embedder.model_id())
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            i = end;
            if i % 20_000 < INSERT_BATCH || i == n {
                log(&format!("  {i}/{n} inserted"));
            }
        }
        insert_secs = start.elapsed().as_secs_f64();
    } else if existing > n {
        return Err(
            format!("the database already holds {existing} synthetic agents (> {n})").into(),
        );
    }

    let index_secs = if existing < n || force_index {
        Some(build_index(&pool, m, ef_construction).await?)
    } else {
        None
    };
    let agents: i64 = sqlx::query_scalar("select count(*) from agent where embedding is not null")
        .fetch_one(&pool)
        .await?;
    Ok(serde_json::json!({
        "step": "load",
        "synthetic_agents": n,
        "agents_with_embedding": agents,
        "embedder": embedder.model_id(),
        "embed_secs": embed_secs,
        "insert_secs": insert_secs,
        "index": index_sql(m, ef_construction),
        "index_build_secs": index_secs,
    }))
}
