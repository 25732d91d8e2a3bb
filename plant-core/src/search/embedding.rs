//! The embedding value, the embedder trait and their error type.

use std::path::PathBuf;

/// Number of dimensions of every [`Embedding`], whichever [`Embedder`] produced it.
pub const DIM: usize = 384;

/// A boxed error from a library underneath an embedder (tokenizer, tensor library, I/O).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why a text could not be embedded, or an embedder could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EmbedError {
    /// A model file is missing, unreadable or malformed.
    #[error(
        "embedding model file {path} is missing or unreadable; run `scripts/fetch-model.sh` \
         and set PLANT_EMBED_MODEL_DIR to the directory it prints"
    )]
    ModelFile {
        /// The file that could not be used.
        path: PathBuf,
        /// What went wrong reading or parsing it.
        #[source]
        source: BoxError,
    },
    /// The tokenizer rejected a text.
    #[error("tokenizer failed")]
    Tokenizer(#[source] BoxError),
    /// The model failed while computing embeddings.
    #[error("embedding inference failed")]
    Inference(#[source] BoxError),
    /// A vector had the wrong number of dimensions.
    #[error("embedding has {actual} dimensions, expected {expected}")]
    Dimension {
        /// Always [`DIM`].
        expected: usize,
        /// What was supplied.
        actual: usize,
    },
    /// A vector had zero length or non-finite components, so it has no direction.
    #[error("embedding vector has zero or non-finite norm")]
    Degenerate,
    /// The background task running the embedder panicked or was cancelled.
    #[error("embedding worker failed")]
    Worker(#[source] BoxError),
}

/// A text embedding: [`DIM`] `f32` components with unit L2 norm.
///
/// The unit norm is an invariant, so cosine similarity is a plain dot product and a vector read
/// back from storage can be compared with a freshly computed one.
///
/// ```
/// use plant_core::search::{Embedding, DIM};
///
/// let mut v = vec![0.0; DIM];
/// v[0] = 3.0;
/// v[1] = 4.0;
/// let e = Embedding::from_vec(v)?;
/// assert!((e.as_slice()[0] - 0.6).abs() < 1e-6);
/// assert!((e.cosine(&e) - 1.0).abs() < 1e-6);
/// # Ok::<(), plant_core::search::EmbedError>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Embedding(Vec<f32>);

impl Embedding {
    /// Builds an embedding from raw components, checking the dimension and L2-normalising.
    ///
    /// Fails with [`EmbedError::Dimension`] unless `v.len() == DIM`, and with
    /// [`EmbedError::Degenerate`] for an all-zero or non-finite vector.
    pub fn from_vec(mut v: Vec<f32>) -> Result<Self, EmbedError> {
        if v.len() != DIM {
            return Err(EmbedError::Dimension {
                expected: DIM,
                actual: v.len(),
            });
        }
        // Accumulate in f64 so that normalising an already-normalised vector is a no-op to f32
        // precision.
        let norm = v
            .iter()
            .map(|x| f64::from(*x) * f64::from(*x))
            .sum::<f64>()
            .sqrt();
        if !norm.is_finite() || norm == 0.0 {
            return Err(EmbedError::Degenerate);
        }
        for x in &mut v {
            *x = (f64::from(*x) / norm) as f32;
        }
        Ok(Self(v))
    }

    /// The components, `DIM` of them.
    pub fn as_slice(&self) -> &[f32] {
        &self.0
    }

    /// The components as an owned vector (for storage, e.g. a pgvector column).
    pub fn into_vec(self) -> Vec<f32> {
        self.0
    }

    /// Cosine similarity in `[-1, 1]`; higher means more alike.
    pub fn cosine(&self, other: &Embedding) -> f32 {
        self.0.iter().zip(&other.0).map(|(a, b)| a * b).sum()
    }
}

/// Turns texts into [`Embedding`]s.
///
/// Implementations are synchronous and CPU-bound; call them from async code through
/// [`EmbedQueue`](super::EmbedQueue).
pub trait Embedder: Send + Sync + std::fmt::Debug {
    /// A stable name for the vector space this embedder produces, stored beside every vector so
    /// that vectors from different embedders are never compared (`"hashing-v1"`,
    /// `"all-MiniLM-L6-v2"`).
    fn model_id(&self) -> &str;

    /// Embeds each text; the result has one embedding per input, in order.
    fn embed(&self, texts: &[&str]) -> Result<Vec<Embedding>, EmbedError>;

    /// True when embedding a text costs about as little as writing it (microseconds, no model):
    /// on a store without a vector index (the in-memory store) the catalog then stores the
    /// vector in the write's own commit. Otherwise (a model, tens of milliseconds of CPU per
    /// text, or a store whose index insert costs milliseconds) the write commits without it and
    /// [`VectorIndexer`](super::VectorIndexer) computes it right after, in batches.
    fn is_cheap(&self) -> bool {
        false
    }

    /// Embeds a single text.
    fn embed_one(&self, text: &str) -> Result<Embedding, EmbedError> {
        self.embed(&[text])?
            .pop()
            .ok_or_else(|| EmbedError::Inference("embedder returned no vector".into()))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn from_vec_rejects_wrong_dimension() {
        let err = Embedding::from_vec(vec![1.0; DIM - 1]).unwrap_err();
        assert!(
            matches!(err, EmbedError::Dimension { expected: DIM, actual } if actual == DIM - 1)
        );
    }

    #[test]
    fn from_vec_rejects_zero_and_nan() {
        assert!(matches!(
            Embedding::from_vec(vec![0.0; DIM]),
            Err(EmbedError::Degenerate)
        ));
        let mut v = vec![1.0; DIM];
        v[7] = f32::NAN;
        assert!(matches!(
            Embedding::from_vec(v),
            Err(EmbedError::Degenerate)
        ));
    }

    #[test]
    fn from_vec_normalises_and_is_idempotent() {
        let v: Vec<f32> = (0..DIM).map(|i| (i as f32 * 0.37).sin()).collect();
        let e = Embedding::from_vec(v).unwrap();
        let norm: f32 = e.as_slice().iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-6);
        let again = Embedding::from_vec(e.as_slice().to_vec()).unwrap();
        for (a, b) in again.as_slice().iter().zip(e.as_slice()) {
            assert!((a - b).abs() < 1e-7);
        }
    }
}
