//! The transparency log's reads and writes: leaf hashes without payloads, and the signed tree
//! checkpoints (migration 0010).

use sqlx::{PgPool, Row};

use super::error::store_error;
use super::write::{to_hash, to_i64, to_u64};
use crate::audit::{Hash, StoredTreeCheckpoint};
use crate::error::Cause;
use crate::store::{StoreError, StoreResult};
use crate::time::Timestamp;

const AUDIT_HASHES: &str = "select seq, hash from audit_log where seq > $1 order by seq limit $2";
const INSERT_TREE_CHECKPOINT: &str = "insert into audit_tree_checkpoint \
    (tree_size, root_hash, note, signed_at) values ($1, $2, $3, $4) \
    on conflict on constraint audit_tree_checkpoint_note_key do nothing";
const TREE_CHECKPOINTS: &str = "select tree_size, root_hash, note, signed_at \
    from audit_tree_checkpoint order by id";
const LATEST_TREE_CHECKPOINT: &str = "select tree_size, root_hash, note, signed_at \
    from audit_tree_checkpoint order by id desc limit 1";

pub(super) async fn audit_hashes(
    pool: &PgPool,
    after: u64,
    limit: u64,
) -> StoreResult<Vec<(u64, Hash)>> {
    let rows: Vec<(i64, Vec<u8>)> = sqlx::query_as(AUDIT_HASHES)
        .bind(to_i64(after)?)
        .bind(to_i64(limit.min(i64::MAX as u64))?)
        .fetch_all(pool)
        .await
        .map_err(store_error)?;
    rows.iter()
        .map(|(seq, hash)| {
            Ok((
                to_u64(*seq, "audit_log.seq")?,
                to_hash(hash, "audit_log.hash")?,
            ))
        })
        .collect()
}

pub(super) async fn add_tree_checkpoint(
    pool: &PgPool,
    c: &StoredTreeCheckpoint,
) -> StoreResult<()> {
    sqlx::query(INSERT_TREE_CHECKPOINT)
        .bind(to_i64(c.tree_size)?)
        .bind(c.root.0.as_slice())
        .bind(&c.note)
        .bind(c.signed_at.as_datetime())
        .execute(pool)
        .await
        .map_err(store_error)?;
    Ok(())
}

pub(super) async fn tree_checkpoints(pool: &PgPool) -> StoreResult<Vec<StoredTreeCheckpoint>> {
    let rows = sqlx::query(TREE_CHECKPOINTS)
        .fetch_all(pool)
        .await
        .map_err(store_error)?;
    rows.iter().map(tree_checkpoint).collect()
}

pub(super) async fn latest_tree_checkpoint(
    pool: &PgPool,
) -> StoreResult<Option<StoredTreeCheckpoint>> {
    let row = sqlx::query(LATEST_TREE_CHECKPOINT)
        .fetch_optional(pool)
        .await
        .map_err(store_error)?;
    row.as_ref().map(tree_checkpoint).transpose()
}

fn tree_checkpoint(row: &sqlx::postgres::PgRow) -> StoreResult<StoredTreeCheckpoint> {
    let get = |e: sqlx::Error| {
        StoreError::Internal(Cause::from(format!("audit_tree_checkpoint row: {e}")))
    };
    Ok(StoredTreeCheckpoint {
        tree_size: to_u64(
            row.try_get(0).map_err(get)?,
            "audit_tree_checkpoint.tree_size",
        )?,
        root: to_hash(
            row.try_get::<&[u8], _>(1).map_err(get)?,
            "audit_tree_checkpoint.root_hash",
        )?,
        note: row.try_get(2).map_err(get)?,
        signed_at: Timestamp::from_datetime(row.try_get(3).map_err(get)?),
    })
}
