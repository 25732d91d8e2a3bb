//! The catalog's side of vectors off the write path ([`VectorIndexer`]): which writes embed in
//! their commit and which after it, and how the indexer reads a record's current text.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use uuid::Uuid;

use super::Catalog;
use crate::error::Result;
use crate::model::{Kind, Record};
use crate::search::{BoxError, IndexJob, IndexSink, VectorIndexer};
use crate::store::{EmbeddingAt, StoredEmbedding, VectorTurn};
use crate::time::Timestamp;

impl Catalog {
    /// True when vectors are stored in the write's own commit: the embedder is cheap (the
    /// hashing embedder) and the store keeps no vector index ([`crate::store::Store::indexes_vectors`]), so
    /// the write carries its vector at no cost. On PostgreSQL every vector follows the commit:
    /// an HNSW insert costs milliseconds of database CPU, and inside the commit it held the
    /// batch's appender (skill creates ran at about 240/s, bound by it).
    pub(super) fn embeds_inline(&self) -> bool {
        self.embedder.embedder().is_cheap() && !self.store.indexes_vectors()
    }

    /// The vector of `text` for a write's commit, when vectors go inline (and this is not a
    /// dry run); `None` otherwise.
    pub(super) async fn inline_embedding(
        &self,
        text: Option<&String>,
    ) -> Result<Option<StoredEmbedding>> {
        match text {
            Some(text) if self.embeds_inline() && !self.dry_run => {
                Ok(Some(self.embed_one(text.clone()).await?))
            }
            _ => Ok(None),
        }
    }

    /// After a commit whose record has a new text: queues its vector, unless vectors go inline.
    pub(super) async fn index_after_commit(&self, record: &Record, text: Option<String>) {
        let Some(text) = text else { return };
        if self.embeds_inline() || self.dry_run {
            return;
        }
        let job = IndexJob {
            kind: record.kind(),
            id: record.id(),
            version: record.version(),
            text,
            committed_at: Instant::now(),
        };
        self.vector_indexer().submit(job).await;
    }

    /// The indexer that computes vectors after commits, started on first use.
    pub fn vector_indexer(&self) -> &VectorIndexer {
        self.vectors.get_or_init(|| {
            VectorIndexer::start(
                (*self.embedder).clone(),
                Arc::new(Sink(Catalog {
                    dry_run: false,
                    ..self.clone()
                })),
            )
        })
    }

    /// The indexer, if it started (a write queued a vector, or the server started it).
    pub fn started_vector_indexer(&self) -> Option<&VectorIndexer> {
        self.vectors.get()
    }

    /// Waits until every vector queued after a commit so far is stored (or failed).
    pub async fn vectors_settled(&self) {
        if let Some(indexer) = self.vectors.get() {
            indexer.settled().await;
        }
    }
}

/// The catalog as the indexer's sink.
#[derive(Debug)]
struct Sink(Catalog);

#[async_trait]
impl IndexSink for Sink {
    async fn put(
        &self,
        kind: Kind,
        id: Uuid,
        version: u64,
        embedding: StoredEmbedding,
    ) -> std::result::Result<bool, BoxError> {
        Ok(self
            .0
            .store
            .put_embedding_at(kind, id, version, embedding)
            .await?)
    }

    async fn put_many(
        &self,
        vectors: Vec<(Kind, Uuid, u64, StoredEmbedding)>,
    ) -> std::result::Result<Vec<bool>, BoxError> {
        let vectors = vectors
            .into_iter()
            .map(|(kind, id, version, embedding)| EmbeddingAt {
                kind,
                id,
                version,
                embedding,
            })
            .collect();
        Ok(self.0.store.put_embeddings_at(vectors).await?)
    }

    fn chain(&self) -> Option<tokio::sync::watch::Receiver<u64>> {
        self.0.store.model_seq()
    }

    async fn turn(&self) -> std::result::Result<VectorTurn, BoxError> {
        Ok(self.0.store.vector_turn().await?)
    }

    async fn current_text(
        &self,
        kind: Kind,
        id: Uuid,
    ) -> std::result::Result<Option<(u64, String)>, BoxError> {
        let Some(record) = self.0.store.get(Some(kind), id).await? else {
            return Ok(None);
        };
        Ok(self
            .0
            .search_text(&record)
            .await?
            .map(|text| (record.version(), text)))
    }

    async fn stale(
        &self,
        model: &str,
        limit: usize,
    ) -> std::result::Result<Vec<IndexJob>, BoxError> {
        let stale = self
            .0
            .store
            .stale_embeddings(model, u64::try_from(limit).unwrap_or(u64::MAX))
            .await?;
        let mut jobs = Vec::with_capacity(stale.len());
        for item in stale {
            let Some(record) = self.0.store.get(Some(item.kind), item.id).await? else {
                continue;
            };
            let Some(text) = self.0.search_text(&record).await? else {
                continue;
            };
            // The lag of a swept vector counts from its version's commit.
            let since = (Timestamp::now().as_datetime() - record.updated_at().as_datetime())
                .to_std()
                .unwrap_or_default();
            jobs.push(IndexJob {
                kind: item.kind,
                id: item.id,
                version: record.version(),
                text,
                committed_at: Instant::now()
                    .checked_sub(since)
                    .unwrap_or_else(Instant::now),
            });
        }
        Ok(jobs)
    }
}
