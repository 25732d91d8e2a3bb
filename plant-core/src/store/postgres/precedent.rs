//! Precedent seeds in PostgreSQL: the `precedent_seed` table of `0005_precedent_seed.sql`, with
//! its self-references by `seed_id`, the CHECK against self-supersession, the trigger against
//! supersession cycles, and an HNSW index on the embedding.

use sqlx::PgConnection;

use super::error::write_error;
use super::sql::KindSql;
use super::write::to_i64;
use crate::audit::Hash;
use crate::model::{Kind, PrecedentSeed};
use crate::store::StoreResult;

macro_rules! precedent_select {
    () => {
        "select jsonb_build_object(\
            'id', b.id, 'seed_id', b.seed_id, 'title', b.title, 'content', b.content, \
            'applies_to', to_jsonb(b.applies_to), 'status', b.status, \
            'supersedes', b.supersedes, 'superseded_by', b.superseded_by, \
            'approving_governor_id', b.approving_governor_id, \
            'created_at', b.created_at, 'updated_at', b.updated_at, 'version', b.version, \
            'version_hash', encode(b.version_hash, 'hex')) \
         from precedent_seed b"
    };
}

macro_rules! precedent_where {
    () => {
        " where ($1::text is null or b.status = $1)"
    };
}

/// Reading seeds: by id, by `seed_id` (the store's `get_by_name`), and the list filtered by
/// status ($1).
pub(super) const PRECEDENT: KindSql = KindSql {
    by_id: concat!(precedent_select!(), " where b.id = $1"),
    by_name: Some(concat!(precedent_select!(), " where b.seed_id = upper($1)")),
    list: concat!(
        precedent_select!(),
        precedent_where!(),
        " order by b.created_at, b.id offset $2 limit $3"
    ),
    list_after: concat!(
        precedent_select!(),
        precedent_where!(),
        " and (b.created_at, b.id) > ($2, $3::uuid) order by b.created_at, b.id offset $4 limit $5"
    ),
    count: concat!("select count(*) from precedent_seed b", precedent_where!()),
};

/// The nearest seeds: $1 the query vector, $2 status, $3 unused (industry), $4 k.
pub(super) const SEARCH_PRECEDENT: &str = "select k.id, k.seed_id, (1 - (k.embedding <=> $1))::real \
    from precedent_seed k \
    where k.embedding is not null and ($2::text is null or k.status = $2) \
      and $3::uuid is null \
    order by k.embedding <=> $1, k.id limit $4";

/// A seed's version, after an update matched no row.
pub(super) const VERSION_OF: &str = "select version from precedent_seed where id = $1";

/// Stores a seed's embedding.
pub(super) const PUT_EMBEDDING: &str =
    "update precedent_seed set embedding = $2, embedding_model = $3 where id = $1";

/// Inserts (`expected` is `None`) or updates a seed at version `expected`.
pub(super) async fn write_precedent(
    conn: &mut PgConnection,
    p: &PrecedentSeed,
    expected: Option<u64>,
) -> StoreResult<bool> {
    let sql = if expected.is_none() {
        "insert into precedent_seed (id, seed_id, title, content, applies_to, status, \
         supersedes, superseded_by, approving_governor_id, created_at, updated_at, version, \
         version_hash) values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
    } else {
        "update precedent_seed set seed_id = $2, title = $3, content = $4, applies_to = $5, \
         status = $6, supersedes = $7, superseded_by = $8, approving_governor_id = $9, \
         created_at = $10, updated_at = $11, version = $12, version_hash = $13 \
         where id = $1 and version = $14"
    };
    let applies_to: Vec<&str> = p.applies_to.iter().map(Kind::as_str).collect();
    let mut query = sqlx::query(sql)
        .bind(p.id)
        .bind(p.seed_id.as_str())
        .bind(p.title.as_str())
        .bind(p.content.as_str())
        .bind(applies_to)
        .bind(p.status.as_str())
        .bind(p.supersedes.as_ref().map(|s| s.as_str()))
        .bind(p.superseded_by.as_ref().map(|s| s.as_str()))
        .bind(p.approving_governor_id.as_deref())
        .bind(p.created_at.as_datetime())
        .bind(p.updated_at.as_datetime())
        .bind(to_i64(p.version)?)
        .bind(p.version_hash.unwrap_or(Hash::ZERO).0.to_vec());
    if let Some(expected) = expected {
        query = query.bind(to_i64(expected)?);
    }
    let done = query
        .execute(&mut *conn)
        .await
        .map_err(|e| write_error(e, Kind::PrecedentSeed))?;
    Ok(done.rows_affected() == 1)
}
