//! Semantic search: embeddings (provisional interface; the full module replaces this file).
#![allow(missing_docs)]

pub const DIM: usize = 384;

#[derive(Debug, Clone, PartialEq)]
pub struct Embedding(Vec<f32>);

#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    #[error("wrong dimension {0}")]
    Dimension(usize),
}

impl Embedding {
    pub fn from_vec(mut v: Vec<f32>) -> Result<Self, EmbedError> {
        if v.len() != DIM {
            return Err(EmbedError::Dimension(v.len()));
        }
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        if n > 0.0 {
            v.iter_mut().for_each(|x| *x /= n);
        }
        Ok(Self(v))
    }
    pub fn as_slice(&self) -> &[f32] {
        &self.0
    }
    pub fn cosine(&self, other: &Embedding) -> f32 {
        self.0.iter().zip(&other.0).map(|(a, b)| a * b).sum()
    }
}

pub trait Embedder: Send + Sync + std::fmt::Debug {
    fn model_id(&self) -> &str;
    fn embed(&self, texts: &[&str]) -> Result<Vec<Embedding>, EmbedError>;
}

#[derive(Debug, Clone, Copy, Default)]
pub struct HashingEmbedder;

impl Embedder for HashingEmbedder {
    fn model_id(&self) -> &str {
        "hashing-v1"
    }
    fn embed(&self, texts: &[&str]) -> Result<Vec<Embedding>, EmbedError> {
        use sha2::{Digest, Sha256};
        texts
            .iter()
            .map(|t| {
                let mut v = vec![0f32; DIM];
                v[0] = 1e-3;
                for w in t.to_lowercase().split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()) {
                    let h = Sha256::digest(w.as_bytes());
                    let i = u16::from_be_bytes([h[0], h[1]]) as usize % DIM;
                    v[i] += if h[2] & 1 == 0 { 1.0 } else { -1.0 };
                }
                Embedding::from_vec(v)
            })
            .collect()
    }
}
