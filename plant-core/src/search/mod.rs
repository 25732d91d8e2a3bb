//! Text embeddings for semantic search.
//!
//! An [`Embedder`] turns texts into [`Embedding`]s — [`DIM`] floats with unit length — so that
//! cosine similarity ranks catalog entries by how close they are to a query. Two embedders exist:
//!
//! - `MiniLm` (cargo feature `minilm`): the all-MiniLM-L6-v2 sentence model run in-process,
//!   loaded from local files; semantic ("my kid" finds "child").
//! - [`HashingEmbedder`]: feature hashing of words; lexical only, needs no files.
//!
//! Vectors from different embedders live in different spaces; every stored vector carries its
//! embedder's [`model_id`](Embedder::model_id). [`EmbedQueue`] runs an embedder from async code,
//! and [`default_embedder`] picks one at start-up.

mod embedding;
mod hashing;
mod indexer;
pub mod lexical;
#[cfg(feature = "minilm")]
mod minilm;
mod queue;
mod text;

use std::path::Path;
use std::sync::Arc;

pub use embedding::{BoxError, DIM, EmbedError, Embedder, Embedding};
pub use hashing::HashingEmbedder;
pub use indexer::{INDEX_BACKLOG, INDEX_BATCH, IndexJob, IndexSink, VectorIndexer, VectorLag};
pub use lexical::{LexicalDoc, query_terms};
#[cfg(feature = "minilm")]
pub use minilm::{MAX_TOKENS, MiniLm};
pub use queue::EmbedQueue;
pub use text::{agent_text, named_text};

/// Chooses the embedder for a process: MiniLM from `model_dir` when it is given, this build has
/// the `minilm` feature and the model loads; otherwise the [`HashingEmbedder`].
///
/// The second value is a warning to log whenever the result is the hashing embedder, saying why
/// and what search loses (meaning, not just words).
///
/// ```
/// use plant_core::search::default_embedder;
///
/// let (embedder, warning) = default_embedder(None);
/// assert_eq!(embedder.model_id(), "hashing-v1");
/// assert!(warning.is_some());
/// ```
pub fn default_embedder(model_dir: Option<&Path>) -> (Arc<dyn Embedder>, Option<String>) {
    const LEXICAL: &str = "using the lexical hashing embedder: search will match words, not \
                           meaning";
    let Some(dir) = model_dir else {
        return (
            Arc::new(HashingEmbedder),
            Some(format!(
                "no embedding model configured (PLANT_EMBED_MODEL_DIR is unset); {LEXICAL}. \
                 Run scripts/fetch-model.sh and set PLANT_EMBED_MODEL_DIR to the directory it \
                 prints"
            )),
        );
    };
    load_minilm(dir, LEXICAL)
}

#[cfg(feature = "minilm")]
fn load_minilm(dir: &Path, lexical: &str) -> (Arc<dyn Embedder>, Option<String>) {
    match MiniLm::load(dir) {
        Ok(model) => (Arc::new(model), None),
        Err(err) => {
            let mut reason = err.to_string();
            let mut source = std::error::Error::source(&err);
            while let Some(cause) = source {
                reason.push_str(": ");
                reason.push_str(&cause.to_string());
                source = cause.source();
            }
            (
                Arc::new(HashingEmbedder),
                Some(format!(
                    "cannot load the embedding model from {}: {reason}; {lexical}",
                    dir.display()
                )),
            )
        }
    }
}

#[cfg(not(feature = "minilm"))]
fn load_minilm(dir: &Path, lexical: &str) -> (Arc<dyn Embedder>, Option<String>) {
    (
        Arc::new(HashingEmbedder),
        Some(format!(
            "PLANT_EMBED_MODEL_DIR is set to {} but this build lacks the `minilm` feature; \
             {lexical}",
            dir.display()
        )),
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn no_model_dir_falls_back_to_hashing_with_a_warning() {
        let (embedder, warning) = default_embedder(None);
        assert_eq!(embedder.model_id(), "hashing-v1");
        assert!(warning.unwrap().contains("PLANT_EMBED_MODEL_DIR"));
    }

    #[test]
    fn unusable_model_dir_falls_back_to_hashing_and_names_the_dir() {
        let dir = Path::new("/nonexistent/plant-model-dir");
        let (embedder, warning) = default_embedder(Some(dir));
        assert_eq!(embedder.model_id(), "hashing-v1");
        let warning = warning.unwrap();
        assert!(
            warning.contains("/nonexistent/plant-model-dir"),
            "{warning}"
        );
    }
}
