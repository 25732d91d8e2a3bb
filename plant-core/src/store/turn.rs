//! A turn for storing vectors, shared by every process on one database ([`Store::vector_turn`]).
//!
//! An HNSW insert costs milliseconds of database CPU. Each process's indexer stores its vectors
//! and, while writes go on, rests as long as the batch took (see
//! [`crate::search::VectorIndexer`]), so one indexer takes at most half of its time. With an
//! indexer per process that bound was per process: three servers on one database stored vectors
//! three times as often during a burst of writes as one did, and that database CPU came out of
//! the writes (skill creates over three processes ran 22–25% below one process; with the indexers
//! paused during the writes they ran level). Taking a turn for the store, and holding it through
//! the rest, makes the bound the database's: one indexer stores at a time, at most half the time,
//! however many processes write.
//!
//! [`Store::vector_turn`]: super::Store::vector_turn

use async_trait::async_trait;

/// A held turn; [`VectorTurn::end`] hands it on. Dropped without `end`, it is handed on all the
/// same (on PostgreSQL its connection closes, and the database releases the lock with it).
#[derive(Default)]
pub struct VectorTurn {
    held: Option<Box<dyn HeldTurn>>,
}

impl std::fmt::Debug for VectorTurn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VectorTurn")
            .field("held", &self.held.is_some())
            .finish()
    }
}

/// What a store holds for a turn and how it lets go.
#[async_trait]
pub trait HeldTurn: Send {
    /// Hands the turn on.
    async fn release(self: Box<Self>);
}

impl VectorTurn {
    /// No turn to take: a store with one writer process (the in-memory store), or a turn that
    /// could not be had (the store then stores anyway).
    pub fn free() -> Self {
        Self::default()
    }

    /// A turn the store holds until [`VectorTurn::end`].
    pub fn held(turn: Box<dyn HeldTurn>) -> Self {
        Self { held: Some(turn) }
    }

    /// Whether a turn is held (false for [`VectorTurn::free`]).
    pub fn is_held(&self) -> bool {
        self.held.is_some()
    }

    /// Hands the turn on.
    pub async fn end(mut self) {
        if let Some(turn) = self.held.take() {
            turn.release().await;
        }
    }
}
