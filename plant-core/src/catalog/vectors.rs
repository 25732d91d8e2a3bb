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
use crate::store::StoredEmbedding;

impl Catalog {
    /// True when vectors are stored in the write's own commit: the embedder is cheap (the
    /// hashing embedder), so the write carries its vector at no cost.
    pub(super) fn embeds_inline(&self) -> bool {
        self.embedder.embedder().is_cheap()
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
}
