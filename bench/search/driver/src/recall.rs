//! Recall@k of the application's HNSW search against exact search.
//!
//! The HNSW side is `Store::search` of `PgStore` (the SQL the server runs, `order by embedding
//! <=> $1` on the agent table) with `hnsw.ef_search` set through `PgConfig`. The exact side is
//! cosine similarity computed in Rust over every agent vector read back from the database; a few
//! queries are also checked against PostgreSQL with index scans disabled.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use plant_core::model::Kind;
use plant_core::search::{Embedder, Embedding};
use plant_core::store::postgres::{PgConfig, PgStore};
use plant_core::store::{SearchFilter, Store};
use sqlx::PgPool;
use uuid::Uuid;

use crate::stats::Summary;
use crate::synth::Synth;
use crate::{BoxResult, log};

/// The agent search of the store, for EXPLAIN and the exact cross-check.
const SEARCH_AGENT: &str = "select k.id, k.name, (1 - (k.embedding <=> $1))::real \
    from agent k join base_entity b on b.id = k.id \
    where k.embedding is not null and ($2::text is null or b.status = $2) \
      and ($3::uuid is null or k.industry_id = $3) \
    order by k.embedding <=> $1, k.id limit $4";

/// The same search in a shape PostgreSQL can serve from the HNSW index: the inner query orders
/// by distance alone (an index scan), the outer one breaks ties by id. A second sort key in the
/// inner `order by` (as in [`SEARCH_AGENT`]) makes the planner sort a sequential scan instead.
pub const SEARCH_AGENT_INDEXED: &str = "select id, name, score from (\
    select k.id, k.name, (1 - (k.embedding <=> $1))::real as score, \
      k.embedding <=> $1 as distance \
    from agent k join base_entity b on b.id = k.id \
    where k.embedding is not null and ($2::text is null or b.status = $2) \
      and ($3::uuid is null or k.industry_id = $3) \
    order by k.embedding <=> $1 limit $4) s \
    order by distance, id";

/// Ties within this distance of the k-th exact neighbour count as correct.
const TIE: f32 = 1e-6;

struct Corpus {
    ids: Vec<Uuid>,
    index: HashMap<Uuid, usize>,
    vectors: Vec<f32>,
    dim: usize,
}

impl Corpus {
    async fn read(pool: &PgPool) -> BoxResult<Self> {
        let rows: Vec<(Uuid, pgvector::Vector)> =
            sqlx::query_as("select id, embedding from agent where embedding is not null")
                .fetch_all(pool)
                .await?;
        let dim = rows.first().map(|(_, v)| v.as_slice().len()).unwrap_or(0);
        let mut ids = Vec::with_capacity(rows.len());
        let mut vectors = Vec::with_capacity(rows.len() * dim);
        for (id, v) in rows {
            let v = v.as_slice();
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            ids.push(id);
            vectors.extend(v.iter().map(|x| x / norm));
        }
        let index = ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
        Ok(Self {
            ids,
            index,
            vectors,
            dim,
        })
    }

    /// The `k` most similar (similarity, id), best first, and every similarity.
    fn exact(&self, q: &[f32], k: usize) -> Vec<(f32, Uuid)> {
        let mut scored: Vec<(f32, Uuid)> = self
            .vectors
            .chunks_exact(self.dim)
            .zip(&self.ids)
            .map(|(v, id)| (v.iter().zip(q).map(|(a, b)| a * b).sum::<f32>(), *id))
            .collect();
        let k = k.min(scored.len());
        scored.select_nth_unstable_by(k.saturating_sub(1), |a, b| {
            b.0.total_cmp(&a.0).then(a.1.cmp(&b.1))
        });
        scored.truncate(k);
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        scored
    }

    fn similarity(&self, id: Uuid, q: &[f32]) -> Option<f32> {
        let i = *self.index.get(&id)?;
        let v = &self.vectors[i * self.dim..(i + 1) * self.dim];
        Some(v.iter().zip(q).map(|(a, b)| a * b).sum())
    }
}

async fn explain(pool: &PgPool, sql: &str, ef: u32, q: &Embedding, k: usize) -> BoxResult<String> {
    let mut conn = pool.acquire().await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("set hnsw.ef_search = {ef}")))
        .execute(&mut *conn)
        .await?;
    let rows: Vec<(String,)> = sqlx::query_as(sqlx::AssertSqlSafe(format!("explain {sql}")))
        .bind(pgvector::Vector::from(q.as_slice().to_vec()))
        .bind(None::<String>)
        .bind(None::<Uuid>)
        .bind(k as i64)
        .fetch_all(&mut *conn)
        .await?;
    sqlx::query("reset hnsw.ef_search")
        .execute(&mut *conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(l,)| l)
        .filter(|l| !l.contains("Sort Key") && !l.contains("Order By"))
        .collect::<Vec<_>>()
        .join("\n"))
}

/// Exact top-k from PostgreSQL with index scans off (sequential scan and sort).
async fn exact_sql(pool: &PgPool, q: &Embedding, k: usize) -> BoxResult<Vec<Uuid>> {
    let mut tx = pool.begin().await?;
    sqlx::query("set local enable_indexscan = off")
        .execute(&mut *tx)
        .await?;
    let rows: Vec<(Uuid, String, f32)> = sqlx::query_as(SEARCH_AGENT)
        .bind(pgvector::Vector::from(q.as_slice().to_vec()))
        .bind(None::<String>)
        .bind(None::<Uuid>)
        .bind(k as i64)
        .fetch_all(&mut *tx)
        .await?;
    tx.rollback().await?;
    Ok(rows.into_iter().map(|(id, _, _)| id).collect())
}

/// Runs `queries` synthetic queries at each `ef_search` and returns one JSON report per value.
pub async fn recall(
    url: &str,
    embedder: Arc<dyn Embedder>,
    queries: usize,
    k: usize,
    efs: &[u32],
    sql_checks: usize,
) -> BoxResult<Vec<serde_json::Value>> {
    let base = PgStore::connect(&PgConfig::new(url)).await?;
    let pool = base.pool().clone();
    let seed = plant_core::seed::SeedCatalog::builtin()?;
    let texts = Synth::new(&seed).queries(queries);
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let vecs = embedder.embed(&refs)?;
    let start = Instant::now();
    let corpus = Corpus::read(&pool).await?;
    log(&format!(
        "read {} agent vectors in {:.1} s",
        corpus.ids.len(),
        start.elapsed().as_secs_f64()
    ));
    let exact: Vec<Vec<(f32, Uuid)>> = vecs.iter().map(|q| corpus.exact(q.as_slice(), k)).collect();

    // Cross-check the Rust exact search against PostgreSQL without the index.
    let mut sql_agree = 0;
    let checks = sql_checks.min(vecs.len());
    for (q, truth) in vecs.iter().zip(&exact).take(checks) {
        let got = exact_sql(&pool, q, k).await?;
        let kth = truth.last().map(|t| t.0).unwrap_or(f32::MIN);
        let ok = got.len() == truth.len()
            && got.iter().all(|id| {
                corpus
                    .similarity(*id, q.as_slice())
                    .is_some_and(|s| s >= kth - TIE)
            });
        if ok {
            sql_agree += 1;
        }
    }
    if checks > 0 {
        log(&format!(
            "exact search in Rust agrees with a PostgreSQL sequential scan on {sql_agree}/{checks} queries"
        ));
    }

    let filter = SearchFilter {
        kinds: vec![Kind::Agent],
        status: None,
        industry_id: None,
    };
    let mut out = Vec::new();
    for &ef in efs {
        let mut config = PgConfig::new(url);
        config.ef_search = ef;
        config.max_connections = 2;
        let store = PgStore::connect(&config).await?;
        for variant in ["store", "indexed"] {
            let sql = if variant == "store" {
                SEARCH_AGENT
            } else {
                SEARCH_AGENT_INDEXED
            };
            let plan = explain(&pool, sql, ef, &vecs[0], k).await?;
            let uses_index = plan.contains("agent_embedding_idx");
            let run = async |q: &Embedding| -> BoxResult<Vec<Uuid>> {
                if variant == "store" {
                    Ok(store
                        .search(q, &filter, k)
                        .await?
                        .into_iter()
                        .map(|h| h.id)
                        .collect())
                } else {
                    let rows: Vec<(Uuid, String, f32)> = sqlx::query_as(SEARCH_AGENT_INDEXED)
                        .bind(pgvector::Vector::from(q.as_slice().to_vec()))
                        .bind(None::<String>)
                        .bind(None::<Uuid>)
                        .bind(k as i64)
                        .fetch_all(store.pool())
                        .await?;
                    Ok(rows.into_iter().map(|(id, _, _)| id).collect())
                }
            };
            // Warm caches and the prepared statement; not measured.
            for q in vecs.iter().take(20) {
                run(q).await?;
            }
            let mut strict = 0usize;
            let mut tolerant = 0usize;
            let mut short = 0usize;
            let mut worst = 1.0f64;
            let mut latencies = Vec::with_capacity(vecs.len());
            for (q, truth) in vecs.iter().zip(&exact) {
                let t = Instant::now();
                let hits = run(q).await?;
                latencies.push(t.elapsed().as_secs_f64() * 1e3);
                if hits.len() < truth.len() {
                    short += 1;
                }
                let kth = truth.last().map(|t| t.0).unwrap_or(f32::MIN);
                strict += hits
                    .iter()
                    .filter(|h| truth.iter().any(|t| t.1 == **h))
                    .count();
                let tl = hits
                    .iter()
                    .filter(|h| {
                        corpus
                            .similarity(**h, q.as_slice())
                            .is_some_and(|s| s >= kth - TIE)
                    })
                    .count();
                tolerant += tl;
                worst = worst.min(tl as f64 / truth.len().max(1) as f64);
            }
            let denom = exact.iter().map(Vec::len).sum::<usize>().max(1) as f64;
            let lat = Summary::of(&mut latencies);
            out.push(serde_json::json!({
                "step": "recall",
                "sql": variant,
                "agents": corpus.ids.len(),
                "queries": vecs.len(),
                "k": k,
                "ef_search": ef,
                "recall": tolerant as f64 / denom,
                "recall_strict_ids": strict as f64 / denom,
                "worst_query_recall": worst,
                "queries_with_fewer_than_k": short,
                "plan_uses_hnsw_index": uses_index,
                "sql_exact_agreement": format!("{sql_agree}/{checks}"),
                "search_ms_c1": lat.json(),
            }));
            log(&format!(
                "{variant} sql, ef_search={ef}: recall@{k}={:.4} (strict {:.4}, worst query {:.1}), hnsw index used: {uses_index}, search p50 {:.2} ms p99 {:.2} ms",
                tolerant as f64 / denom,
                strict as f64 / denom,
                worst,
                lat.p50,
                lat.p99
            ));
            if !uses_index {
                log(&format!("plan without the index:\n{plan}"));
            }
        }
        store.close().await;
    }
    Ok(out)
}
