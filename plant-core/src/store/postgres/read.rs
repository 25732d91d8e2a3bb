//! Reads: records by id, name and filters; the audit log; checkpoints; search.

use serde_json::Value;
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::query::{Query, QueryScalar};
use sqlx::types::Json;
use sqlx::{PgConnection, PgPool, Postgres, Row};
use uuid::Uuid;

use super::error::store_error;
use super::rows;
use super::sql::{self, KindSql};
use super::write::{to_hash, to_i64, to_u64};
use crate::Timestamp;
use crate::audit::{AuditEntry, Checkpoint};
use crate::error::Cause;
use crate::model::{Kind, Name, Record};
use crate::search::Embedding;
use crate::search::lexical::{FUSION_DEPTH, tsquery};
use crate::store::memory::SEARCHED;
use crate::store::{
    FusedQuery, ListQuery, SearchFilter, SearchHit, StaleEmbedding, StoreError, StoreResult,
};

pub(super) fn kind_sql(kind: Kind) -> &'static KindSql {
    match kind {
        Kind::Industry => &sql::INDUSTRY,
        Kind::Skill => &sql::SKILL,
        Kind::JobRole => &sql::JOB_ROLE,
        Kind::Team => &sql::TEAM,
        Kind::Agent => &sql::AGENT,
        Kind::Trial => &sql::TRIAL,
        Kind::Job => &sql::JOB,
        Kind::PrecedentSeed => &super::precedent::PRECEDENT,
    }
}

fn decode(kind: Kind, value: Value) -> StoreResult<Record> {
    let id = value
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or("?")
        .to_owned();
    Record::from_json(kind, value).map_err(|e| {
        StoreError::Internal(Cause::from(format!(
            "stored {kind} {id} does not read back: {e}"
        )))
    })
}

pub(super) async fn kind_of(pool: &PgPool, id: Uuid) -> StoreResult<Option<Kind>> {
    let kind: Option<String> = sqlx::query_scalar(sql::KIND_OF)
        .bind(id)
        .fetch_one(pool)
        .await
        .map_err(store_error)?;
    kind.map(|k| {
        k.parse::<Kind>()
            .map_err(|e| StoreError::Internal(Cause::from(format!("stored entity_type: {e}"))))
    })
    .transpose()
}

/// A record from a row of its kind's select: plain columns for the catalog kinds, one JSON
/// column for the others.
fn record_of(kind: Kind, row: &PgRow) -> StoreResult<Record> {
    if let Some(record) = rows::catalog_record(kind, row) {
        return record;
    }
    let Json(value) = row.try_get::<Json<Value>, _>(0).map_err(|e| {
        StoreError::Internal(Cause::from(format!(
            "stored {kind} row does not read back: {e}"
        )))
    })?;
    decode(kind, value)
}

pub(super) async fn get(pool: &PgPool, kind: Kind, id: Uuid) -> StoreResult<Option<Record>> {
    let row = sqlx::query(kind_sql(kind).by_id)
        .bind(id)
        .fetch_optional(pool)
        .await
        .map_err(store_error)?;
    row.map(|row| record_of(kind, &row)).transpose()
}

pub(super) async fn external_id_owner(
    pool: &PgPool,
    external_id: &str,
) -> StoreResult<Option<Uuid>> {
    sqlx::query_scalar(sql::EXTERNAL_ID_OWNER)
        .bind(external_id)
        .fetch_optional(pool)
        .await
        .map_err(store_error)
}

pub(super) async fn get_by_name(
    pool: &PgPool,
    kind: Kind,
    name: &str,
) -> StoreResult<Option<Record>> {
    let Some(sql) = kind_sql(kind).by_name else {
        return Ok(None);
    };
    // Catalog kinds are found by the key their names are unique by; a text that is no name
    // (blank, invisible characters) names nothing. A precedent seed by its seed id.
    let key = if kind == Kind::PrecedentSeed {
        name.trim().to_owned()
    } else {
        match Name::parse(name) {
            Ok(name) => name.unique_key(kind),
            Err(_) => return Ok(None),
        }
    };
    let row = sqlx::query(sql)
        .bind(key)
        .fetch_optional(pool)
        .await
        .map_err(store_error)?;
    row.map(|row| record_of(kind, &row)).transpose()
}

/// The names of the records of a catalog kind among `ids`, in one query (none for other kinds).
pub(super) async fn names(
    pool: &PgPool,
    kind: Kind,
    ids: &[Uuid],
) -> StoreResult<std::collections::HashMap<Uuid, String>> {
    let sql = match kind {
        Kind::Industry => "select id, name from industry where id = any($1)",
        Kind::Skill => "select id, name from skill where id = any($1)",
        Kind::JobRole => "select id, name from job_role where id = any($1)",
        Kind::Team => "select id, name from team where id = any($1)",
        Kind::Agent => "select id, name from agent where id = any($1)",
        Kind::Trial | Kind::Job | Kind::PrecedentSeed => return Ok(Default::default()),
    };
    let rows: Vec<(Uuid, String)> = sqlx::query_as(sql)
        .bind(ids)
        .fetch_all(pool)
        .await
        .map_err(store_error)?;
    Ok(rows.into_iter().collect())
}

type Scalar<'q, O> = QueryScalar<'q, Postgres, O, PgArguments>;
type Plain<'q> = Query<'q, Postgres, PgArguments>;

/// Binds the filters of `kind`'s list and count queries, in the order `sql.rs` numbers them.
/// (A macro: the list query returns rows, the count a scalar, and the two builders share no
/// trait for `bind`.)
macro_rules! bind_filters {
    ($kind:expr, $q:expr, $query:expr) => {{
        let q = $q;
        let query = $query.bind(q.status.map(|s| s.as_str()));
        match $kind {
            Kind::Industry => query,
            Kind::Skill => query.bind(q.category.map(|c| c.as_str())),
            Kind::JobRole => query
                .bind(q.seniority_level.map(|s| s.as_str()))
                .bind(q.industry_id)
                .bind(q.skill_id),
            Kind::Team => query.bind(q.industry_id).bind(q.job_role_id),
            Kind::Agent => query
                .bind(q.industry_id)
                .bind(q.job_role_id)
                .bind(q.skill_id)
                .bind(q.team_id),
            Kind::Trial => query.bind(q.agent_id).bind(q.customer_email.as_deref()),
            Kind::Job => query.bind(q.agent_id).bind(q.trial_id),
            Kind::PrecedentSeed => query,
        }
    }};
}

fn bind_list<'q>(kind: Kind, q: &'q ListQuery, query: Plain<'q>) -> Plain<'q> {
    bind_filters!(kind, q, query)
}

fn bind_count<'q, O>(kind: Kind, q: &'q ListQuery, query: Scalar<'q, O>) -> Scalar<'q, O> {
    bind_filters!(kind, q, query)
}

/// One kind's page: filters, then cursor, offset, limit.
pub(super) async fn list_kind(
    conn: &mut PgConnection,
    kind: Kind,
    q: &ListQuery,
    offset: u64,
    limit: u64,
) -> StoreResult<Vec<Record>> {
    let sql = kind_sql(kind);
    let query = match q.after {
        None => bind_list(kind, q, sqlx::query(sql.list)),
        Some((at, id)) => bind_list(kind, q, sqlx::query(sql.list_after))
            .bind(at.as_datetime())
            .bind(id),
    };
    let query = query
        .bind(to_i64(offset)?)
        .bind(to_i64(limit.min(i64::MAX as u64))?);
    let rows = query.fetch_all(conn).await.map_err(store_error)?;
    rows.iter().map(|row| record_of(kind, row)).collect()
}

pub(super) async fn list(conn: &mut PgConnection, q: &ListQuery) -> StoreResult<Vec<Record>> {
    if let Some(kind) = q.kind {
        return list_kind(conn, kind, q, q.offset, q.limit).await;
    }
    // Across kinds: each kind's first offset + limit rows, merged in (created_at, id) order.
    let wanted = q.offset.saturating_add(q.limit);
    let mut all = Vec::new();
    for kind in Kind::ALL {
        all.extend(list_kind(&mut *conn, *kind, q, 0, wanted).await?);
    }
    all.sort_by_key(|r| (r.created_at(), r.id()));
    let offset = usize::try_from(q.offset).unwrap_or(usize::MAX);
    let limit = usize::try_from(q.limit).unwrap_or(usize::MAX);
    Ok(all.into_iter().skip(offset).take(limit).collect())
}

pub(super) async fn count(pool: &PgPool, q: &ListQuery) -> StoreResult<u64> {
    let kinds = match q.kind {
        Some(kind) => vec![kind],
        None => Kind::ALL.to_vec(),
    };
    let mut total = 0u64;
    for kind in kinds {
        let n: i64 = bind_count(kind, q, sqlx::query_scalar(kind_sql(kind).count))
            .fetch_one(pool)
            .await
            .map_err(store_error)?;
        total = total.saturating_add(to_u64(n, "count")?);
    }
    Ok(total)
}

fn audit_entry(row: &PgRow) -> StoreResult<AuditEntry> {
    let get = |e: sqlx::Error| StoreError::Internal(Cause::from(format!("audit_log row: {e}")));
    let seq: i64 = row.try_get(0).map_err(get)?;
    Ok(AuditEntry {
        seq: to_u64(seq, "audit_log.seq")?,
        entity_id: row.try_get(1).map_err(get)?,
        entity_type: row.try_get(2).map_err(get)?,
        entity_version: to_u64(row.try_get(3).map_err(get)?, "audit_log.entity_version")?,
        action: row.try_get(4).map_err(get)?,
        actor: row.try_get(5).map_err(get)?,
        at: Timestamp::from_datetime(row.try_get(6).map_err(get)?),
        payload: row.try_get(7).map_err(get)?,
        prev_hash: to_hash(
            row.try_get::<&[u8], _>(8).map_err(get)?,
            "audit_log.prev_hash",
        )?,
        hash: to_hash(row.try_get::<&[u8], _>(9).map_err(get)?, "audit_log.hash")?,
    })
}

pub(super) async fn entity_entries(pool: &PgPool, id: Uuid) -> StoreResult<Vec<AuditEntry>> {
    let rows = sqlx::query(sql::ENTITY_ENTRIES)
        .bind(id)
        .fetch_all(pool)
        .await
        .map_err(store_error)?;
    rows.iter().map(audit_entry).collect()
}

pub(super) async fn audit_entries(
    conn: &mut PgConnection,
    after: u64,
    limit: u64,
) -> StoreResult<Vec<AuditEntry>> {
    let rows = sqlx::query(sql::AUDIT_ENTRIES)
        .bind(to_i64(after)?)
        .bind(to_i64(limit.min(i64::MAX as u64))?)
        .fetch_all(conn)
        .await
        .map_err(store_error)?;
    rows.iter().map(audit_entry).collect()
}

pub(super) async fn add_checkpoint(pool: &PgPool, c: &Checkpoint) -> StoreResult<()> {
    let bytes = |hex_text: &str, len: usize, what: &str| {
        hex::decode(hex_text)
            .ok()
            .filter(|b| b.len() == len)
            .ok_or_else(|| {
                StoreError::InvalidChange(Cause::from(format!(
                    "checkpoint {what} is not {len} bytes of hex"
                )))
            })
    };
    sqlx::query(sql::INSERT_CHECKPOINT)
        .bind(to_i64(c.seq)?)
        .bind(c.hash.0.as_slice())
        .bind(c.signed_at.as_datetime())
        .bind(bytes(&c.public_key, 32, "public key")?)
        .bind(bytes(&c.signature, 64, "signature")?)
        .execute(pool)
        .await
        .map_err(store_error)?;
    Ok(())
}

pub(super) async fn checkpoints(conn: &mut PgConnection) -> StoreResult<Vec<Checkpoint>> {
    let rows = sqlx::query(sql::CHECKPOINTS)
        .fetch_all(conn)
        .await
        .map_err(store_error)?;
    rows.iter().map(checkpoint_row).collect()
}

pub(super) async fn newest_checkpoint(pool: &PgPool) -> StoreResult<Option<Checkpoint>> {
    let row = sqlx::query(sql::NEWEST_CHECKPOINT)
        .fetch_optional(pool)
        .await
        .map_err(store_error)?;
    row.as_ref().map(checkpoint_row).transpose()
}

fn checkpoint_row(row: &PgRow) -> StoreResult<Checkpoint> {
    let get =
        |e: sqlx::Error| StoreError::Internal(Cause::from(format!("audit_checkpoint row: {e}")));
    Ok(Checkpoint {
        seq: to_u64(row.try_get(0).map_err(get)?, "audit_checkpoint.seq")?,
        hash: to_hash(
            row.try_get::<&[u8], _>(1).map_err(get)?,
            "audit_checkpoint.hash",
        )?,
        signed_at: Timestamp::from_datetime(row.try_get(2).map_err(get)?),
        public_key: hex::encode(row.try_get::<&[u8], _>(3).map_err(get)?),
        signature: hex::encode(row.try_get::<&[u8], _>(4).map_err(get)?),
    })
}

pub(super) async fn search(
    pool: &PgPool,
    query: &Embedding,
    filter: &SearchFilter,
    k: usize,
) -> StoreResult<Vec<SearchHit>> {
    let kinds: &[Kind] = if filter.kinds.is_empty() {
        SEARCHED
    } else {
        &filter.kinds
    };
    let vector = pgvector::Vector::from(query.as_slice().to_vec());
    let limit = i64::try_from(k).unwrap_or(i64::MAX);
    let mut hits = Vec::new();
    for kind in kinds {
        let sql = match kind {
            Kind::Industry => sql::SEARCH_INDUSTRY,
            Kind::Skill => sql::SEARCH_SKILL,
            Kind::JobRole => sql::SEARCH_JOB_ROLE,
            Kind::Agent => sql::SEARCH_AGENT,
            Kind::PrecedentSeed => super::precedent::SEARCH_PRECEDENT,
            _ => continue,
        };
        let rows: Vec<(Uuid, String, f32)> = sqlx::query_as(sql)
            .bind(&vector)
            .bind(filter.status.map(|s| s.as_str()))
            .bind(filter.industry_id)
            .bind(limit)
            .fetch_all(pool)
            .await
            .map_err(store_error)?;
        hits.extend(rows.into_iter().map(|(id, name, score)| SearchHit {
            kind: *kind,
            id,
            name,
            score,
        }));
    }
    hits.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.id.cmp(&b.id)));
    hits.truncate(k);
    Ok(hits)
}

pub(super) async fn search_fused(
    pool: &PgPool,
    query: &FusedQuery,
    filter: &SearchFilter,
    k: usize,
) -> StoreResult<Vec<SearchHit>> {
    let kinds: Vec<&str> = SEARCHED
        .iter()
        .filter(|kind| filter.kinds.is_empty() || filter.kinds.contains(kind))
        .map(|kind| kind.as_str())
        .collect();
    let vector = query
        .embedding
        .as_ref()
        .map(|e| pgvector::Vector::from(e.as_slice().to_vec()));
    let depth = i64::try_from(k.max(FUSION_DEPTH)).unwrap_or(i64::MAX);
    let rows: Vec<(String, Uuid, String, f64, Option<f32>)> = sqlx::query_as(sql::SEARCH_FUSED)
        .bind(vector)
        .bind(filter.status.map(|s| s.as_str()))
        .bind(filter.industry_id)
        .bind(depth)
        .bind(&kinds)
        .bind(tsquery(&query.terms))
        .bind(i64::try_from(k).unwrap_or(i64::MAX))
        .fetch_all(pool)
        .await
        .map_err(store_error)?;
    rows.into_iter()
        .map(|(kind, id, name, fused, rank)| {
            let kind = kind
                .parse::<Kind>()
                .map_err(|e| StoreError::Internal(Cause::from(format!("search kind: {e}"))))?;
            let score = match (&query.embedding, rank) {
                (None, Some(rank)) => rank,
                _ => fused as f32,
            };
            Ok(SearchHit {
                kind,
                id,
                name,
                score,
            })
        })
        .collect()
}

pub(super) async fn stale_embeddings(
    pool: &PgPool,
    model: &str,
    limit: u64,
) -> StoreResult<Vec<StaleEmbedding>> {
    let rows: Vec<(String, Uuid)> = sqlx::query_as(sql::STALE_EMBEDDINGS)
        .bind(model)
        .bind(to_i64(limit.min(i64::MAX as u64))?)
        .fetch_all(pool)
        .await
        .map_err(store_error)?;
    rows.into_iter()
        .map(|(kind, id)| {
            let kind = kind.parse::<Kind>().map_err(|e| {
                StoreError::Internal(Cause::from(format!("stored entity_type: {e}")))
            })?;
            Ok(StaleEmbedding { kind, id })
        })
        .collect()
}
