//! The PostgreSQL store ([`PgStore`]): sqlx with a bounded pool, the embedded migrations of
//! `migrations/`, pgvector HNSW search.
//!
//! The schema is joined-table inheritance: `base_entity` holds the shared sections, one table
//! per kind holds the kind's columns, `trial`/`job` stand alone, and `audit_log` holds the chain
//! behind a trigger that refuses UPDATE, DELETE and TRUNCATE. Every write goes through
//! [`Store::commit`], which takes the chain's head row `for update` inside the transaction
//! that writes the record, so any number of processes append one gap-free chain. The changes
//! that are ready at once in a process share that transaction ([group commit](GroupCommit)):
//! one head lock and one WAL flush for the batch, each change failing alone.
//!
//! Queries are checked at run time (no offline query cache): the store's tests run every query
//! against a real server.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use plant_core::store::Store;
//! use plant_core::store::postgres::{PgConfig, PgStore, migrate};
//!
//! let url = "postgres://plant:secret@127.0.0.1:5432/plant";
//! migrate(url).await?; // idempotent; safe from several processes at once
//! let store = PgStore::connect(&PgConfig::new(url)).await?;
//! store.ping().await?;
//! # Ok(())
//! # }
//! ```

mod error;
mod group;
mod listen;
mod literal;
mod precedent;
mod read;
mod rows;
mod setup;
mod sql;
mod tlog;
mod turn;
mod url;
mod write;

use std::collections::HashSet;
use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use sqlx::{PgConnection, PgPool};
use tracing::instrument;
use uuid::Uuid;

pub use self::group::GroupCommit;
pub use self::listen::CHANNEL as FEED_CHANNEL;
pub use self::setup::{
    ConnectError, DEFAULT_EF_SEARCH, MIGRATOR, MIN_SERVER_VERSION_NUM, MigrationReport, PgConfig,
    ServerInfo, check_server, migrate, server_info,
};
pub use self::url::{UrlError, connect_options, normalize_url, redact};
use super::{
    Change, Committed, EmbeddingAt, FusedQuery, ListQuery, PoolStats, SearchFilter, SearchHit,
    StaleEmbedding, Store, StoreError, StoreResult, StoredEmbedding,
};
use crate::audit::{AuditEntry, Checkpoint, Hash, Head, StoredTreeCheckpoint, VerifyReport};
use crate::error::Cause;
use crate::model::{Kind, Record};
use crate::search::Embedding;
pub(crate) use error::store_error;

/// The PostgreSQL implementation of [`Store`]. Cloning shares the pool.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    notifier: Arc<listen::Notifier>,
    group_commit: GroupCommit,
    /// Started on the first commit, on a thread of its own (see `group`).
    appender: Arc<OnceLock<group::Appender>>,
}

impl PgStore {
    /// Opens a bounded pool and checks the server: PostgreSQL 14 or newer with the `vector`
    /// extension installed (run [`migrate`] first on a new database). Does not migrate.
    pub async fn connect(config: &PgConfig) -> Result<Self, ConnectError> {
        Ok(Self::from_pool(setup::open_pool(config).await?).with_group_commit(config.group_commit))
    }

    /// Wraps a pool the caller configured (tests, tools); no checks. Commits are grouped with
    /// [`GroupCommit::default`].
    pub fn from_pool(pool: PgPool) -> Self {
        Self {
            pool,
            notifier: Arc::default(),
            group_commit: GroupCommit::default(),
            appender: Arc::default(),
        }
    }

    /// The same store with another grouping of commits (before its first commit).
    pub fn with_group_commit(mut self, group_commit: GroupCommit) -> Self {
        self.group_commit = group_commit;
        self.appender = Arc::default();
        self
    }

    /// The pool, for health checks and tools.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Refreshes the planner's statistics of every table (`analyze`), as after any bulk load.
    /// A freshly seeded database has none until autovacuum gets to it, and a plan chosen
    /// meanwhile can stay with a connection for its life: measured on the seed catalog, the
    /// foreign-key check of every skill created read the `(entity_type, created_at, id)`
    /// index from the start of the skills, a cost growing with each one (skill creates
    /// 696 -> 965 req/s once the seed was analysed).
    pub async fn analyze(&self) -> StoreResult<()> {
        sqlx::raw_sql("analyze")
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(store_error)
    }

    /// Closes every connection; calls after this fail as unavailable.
    pub async fn close(&self) {
        if let Some(appender) = self.appender.get() {
            appender.close().await;
        }
        self.pool.close().await;
    }

    /// A connection of the pool, for reads that take one.
    async fn connection(&self) -> StoreResult<sqlx::pool::PoolConnection<sqlx::Postgres>> {
        self.pool.acquire().await.map_err(store_error)
    }

    async fn commit_changes(&self, changes: Vec<Change>) -> StoreResult<Vec<Committed>> {
        self.appender
            .get_or_init(|| group::Appender::start(&self.pool, self.group_commit))
            .commit(changes)
            .await
    }
}

#[async_trait]
impl Store for PgStore {
    #[instrument(skip_all, fields(kind = %change.record.kind(), id = %change.record.id(), action = %change.action))]
    async fn commit(&self, change: Change) -> StoreResult<Committed> {
        let mut done = self.commit_changes(vec![change]).await?;
        done.pop()
            .ok_or_else(|| StoreError::Internal(Cause::from("commit wrote nothing")))
    }

    #[instrument(skip_all, fields(changes = changes.len()))]
    async fn commit_all(&self, changes: Vec<Change>) -> StoreResult<Vec<Committed>> {
        self.commit_changes(changes).await
    }

    #[instrument(skip(self))]
    async fn get(&self, kind: Option<Kind>, id: Uuid) -> StoreResult<Option<Record>> {
        let kind = match kind {
            Some(kind) => kind,
            None => match read::kind_of(&self.pool, id).await? {
                Some(kind) => kind,
                None => return Ok(None),
            },
        };
        read::get(&self.pool, kind, id).await
    }

    #[instrument(skip(self))]
    async fn get_by_name(&self, kind: Kind, name: &str) -> StoreResult<Option<Record>> {
        read::get_by_name(&self.pool, kind, name).await
    }

    #[instrument(skip(self))]
    async fn external_id_owner(&self, external_id: &str) -> StoreResult<Option<Uuid>> {
        read::external_id_owner(&self.pool, external_id).await
    }

    #[instrument(skip(self, ids), fields(ids = ids.len()))]
    async fn names(
        &self,
        kind: Kind,
        ids: &[Uuid],
    ) -> StoreResult<std::collections::HashMap<Uuid, String>> {
        read::names(&self.pool, kind, ids).await
    }

    #[instrument(skip(self))]
    async fn list(&self, query: &ListQuery) -> StoreResult<Vec<Record>> {
        read::list(&mut *self.connection().await?, query).await
    }

    #[instrument(skip(self))]
    async fn count(&self, query: &ListQuery) -> StoreResult<u64> {
        read::count(&self.pool, query).await
    }

    #[instrument(skip(self))]
    async fn entity_entries(&self, id: Uuid) -> StoreResult<Vec<AuditEntry>> {
        read::entity_entries(&self.pool, id).await
    }

    #[instrument(skip(self))]
    async fn audit_entries(&self, after: u64, limit: u64) -> StoreResult<Vec<AuditEntry>> {
        read::audit_entries(&mut *self.connection().await?, after, limit).await
    }

    #[instrument(skip(self))]
    async fn head(&self) -> StoreResult<Head> {
        let (seq, hash): (i64, Vec<u8>) = sqlx::query_as(sql::HEAD)
            .fetch_one(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(Head {
            seq: write::to_u64(seq, "audit_head.seq")?,
            hash: write::to_hash(&hash, "audit_head.hash")?,
        })
    }

    #[instrument(skip_all, fields(seq = checkpoint.seq))]
    async fn add_checkpoint(&self, checkpoint: Checkpoint) -> StoreResult<()> {
        read::add_checkpoint(&self.pool, &checkpoint).await
    }

    /// Reads the chain, the checkpoints and the rows in one repeatable-read, read-only
    /// transaction: one snapshot, so writers committing meanwhile are simply not seen.
    #[instrument(skip_all)]
    async fn verify(&self, trusted_keys: &[String]) -> StoreResult<VerifyReport> {
        let mut tx = self.pool.begin().await.map_err(store_error)?;
        sqlx::raw_sql("set transaction isolation level repeatable read, read only")
            .execute(&mut *tx)
            .await
            .map_err(store_error)?;
        let report = crate::store::verify_from(&mut Snapshot(&mut tx), trusted_keys).await;
        // Read only: ending it either way changes nothing.
        let _ = tx.rollback().await;
        report
    }

    #[instrument(skip(self))]
    async fn checkpoints(&self) -> StoreResult<Vec<Checkpoint>> {
        read::checkpoints(&mut *self.connection().await?).await
    }

    #[instrument(skip(self))]
    async fn audit_hashes(&self, after: u64, limit: u64) -> StoreResult<Vec<(u64, Hash)>> {
        tlog::audit_hashes(&self.pool, after, limit).await
    }

    #[instrument(skip_all, fields(tree_size = checkpoint.tree_size))]
    async fn add_tree_checkpoint(&self, checkpoint: StoredTreeCheckpoint) -> StoreResult<()> {
        tlog::add_tree_checkpoint(&self.pool, &checkpoint).await
    }

    #[instrument(skip(self))]
    async fn tree_checkpoints(&self) -> StoreResult<Vec<StoredTreeCheckpoint>> {
        tlog::tree_checkpoints(&self.pool).await
    }

    #[instrument(skip(self))]
    async fn latest_tree_checkpoint(&self) -> StoreResult<Option<StoredTreeCheckpoint>> {
        tlog::latest_tree_checkpoint(&self.pool).await
    }

    #[instrument(skip(self))]
    async fn newest_checkpoint(&self) -> StoreResult<Option<Checkpoint>> {
        read::newest_checkpoint(&self.pool).await
    }

    #[instrument(skip(self, query))]
    async fn search(
        &self,
        query: &Embedding,
        filter: &SearchFilter,
        k: usize,
    ) -> StoreResult<Vec<SearchHit>> {
        read::search(&self.pool, query, filter, k).await
    }

    async fn search_fused(
        &self,
        query: &FusedQuery,
        filter: &SearchFilter,
        k: usize,
    ) -> StoreResult<Vec<SearchHit>> {
        read::search_fused(&self.pool, query, filter, k).await
    }

    #[instrument(skip(self))]
    async fn stale_embeddings(&self, model: &str, limit: u64) -> StoreResult<Vec<StaleEmbedding>> {
        read::stale_embeddings(&self.pool, model, limit).await
    }

    #[instrument(skip(self, embedding), fields(model = %embedding.model))]
    async fn put_embedding(
        &self,
        kind: Kind,
        id: Uuid,
        embedding: StoredEmbedding,
    ) -> StoreResult<()> {
        let mut conn = self.pool.acquire().await.map_err(store_error)?;
        if write::put_embedding(&mut conn, kind, id, &embedding, false).await? {
            Ok(())
        } else {
            Err(StoreError::NotFound { kind, id })
        }
    }

    #[instrument(skip(self, embedding), fields(model = %embedding.model))]
    async fn put_embedding_at(
        &self,
        kind: Kind,
        id: Uuid,
        version: u64,
        embedding: StoredEmbedding,
    ) -> StoreResult<bool> {
        let mut conn = self.pool.acquire().await.map_err(store_error)?;
        let stored =
            write::put_embeddings_at(&mut conn, kind, &[(id, version, &embedding)]).await?;
        Ok(stored.contains(&(id, version)))
    }

    /// One transaction and one statement per kind: a statement per vector would cost two round
    /// trips each (sqlx describes an unprepared statement before it runs it).
    async fn put_embeddings_at(&self, vectors: Vec<EmbeddingAt>) -> StoreResult<Vec<bool>> {
        if vectors.is_empty() {
            return Ok(Vec::new());
        }
        let mut kinds: Vec<Kind> = vectors.iter().map(|v| v.kind).collect();
        kinds.sort_unstable();
        kinds.dedup();
        let mut tx = self.pool.begin().await.map_err(store_error)?;
        let mut stored = HashSet::with_capacity(vectors.len());
        for kind in kinds {
            let of_kind: Vec<_> = vectors
                .iter()
                .filter(|v| v.kind == kind)
                .map(|v| (v.id, v.version, &v.embedding))
                .collect();
            stored.extend(write::put_embeddings_at(&mut tx, kind, &of_kind).await?);
        }
        tx.commit().await.map_err(store_error)?;
        Ok(vectors
            .iter()
            .map(|v| stored.contains(&(v.id, v.version)))
            .collect())
    }

    async fn vector_turn(&self) -> StoreResult<crate::store::VectorTurn> {
        turn::take(&self.pool).await
    }

    #[instrument(skip(self))]
    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("select 1")
            .execute(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    fn webhooks(&self) -> Option<&dyn crate::webhooks::WebhookStore> {
        Some(self)
    }

    async fn audit_signal(&self) -> StoreResult<Option<tokio::sync::watch::Receiver<u64>>> {
        Ok(Some(self.notifier.subscribe(&self.pool)))
    }

    fn indexes_vectors(&self) -> bool {
        true
    }

    fn pool_stats(&self) -> Option<PoolStats> {
        Some(PoolStats {
            size: self.pool.size(),
            idle: u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX),
            max: self.pool.options().get_max_connections(),
        })
    }
}

/// One transaction's reads, for [`PgStore::verify`].
struct Snapshot<'a>(&'a mut PgConnection);

#[async_trait]
impl crate::store::VerifySource for Snapshot<'_> {
    async fn checkpoints(&mut self) -> StoreResult<Vec<Checkpoint>> {
        read::checkpoints(self.0).await
    }
    async fn audit_entries(&mut self, after: u64, limit: u64) -> StoreResult<Vec<AuditEntry>> {
        read::audit_entries(self.0, after, limit).await
    }
    async fn list(&mut self, query: &ListQuery) -> StoreResult<Vec<Record>> {
        read::list(self.0, query).await
    }
}
