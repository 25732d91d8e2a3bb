//! all-MiniLM-L6-v2 run in-process with candle: semantic embeddings without Python or a network.

use std::fmt;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config, DTYPE};
use tokenizers::{Tokenizer, TruncationParams};

use super::embedding::{BoxError, EmbedError, Embedder, Embedding};

/// Texts are cut to this many tokens (special tokens included), as the model was trained.
pub const MAX_TOKENS: usize = 256;
/// Texts per forward pass. Larger batches add padding and memory without much gain on a CPU.
const BATCH: usize = 32;

/// The sentence-transformers model all-MiniLM-L6-v2 (`"all-MiniLM-L6-v2"`).
///
/// Loaded from a directory holding `config.json`, `tokenizer.json` and `model.safetensors`
/// (`scripts/fetch-model.sh` puts them in place). Texts are tokenized (lowercased WordPiece,
/// truncated at [`MAX_TOKENS`]), run through the 6-layer BERT encoder in batches, mean-pooled
/// over the real (non-padding) tokens and L2-normalised — the same recipe as the
/// sentence-transformers reference, so vectors are comparable with it.
pub struct MiniLm {
    model: BertModel,
    tokenizer: Tokenizer,
    device: Device,
    dir: PathBuf,
}

impl MiniLm {
    /// The id stored beside vectors from this embedder.
    pub const MODEL_ID: &'static str = "all-MiniLM-L6-v2";

    /// Loads the model from `dir`.
    ///
    /// Fails with [`EmbedError::ModelFile`] naming the first file that is missing, unreadable or
    /// malformed.
    pub fn load(dir: &Path) -> Result<Self, EmbedError> {
        let config_path = dir.join("config.json");
        let tokenizer_path = dir.join("tokenizer.json");
        let weights_path = dir.join("model.safetensors");

        let config_bytes = read(&config_path)?;
        let config: Config =
            serde_json::from_slice(&config_bytes).map_err(|e| file_error(&config_path, e))?;

        let mut tokenizer =
            Tokenizer::from_file(&tokenizer_path).map_err(|e| file_error(&tokenizer_path, e))?;
        // The shipped tokenizer.json pads and truncates to 128; we pad per batch ourselves and
        // truncate where the model's sentence-transformers configuration does.
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MAX_TOKENS,
                ..TruncationParams::default()
            }))
            .map_err(|e| file_error(&tokenizer_path, e))?;

        let device = Device::Cpu;
        let weights = read(&weights_path)?;
        let vb = VarBuilder::from_buffered_safetensors(weights, DTYPE, &device)
            .map_err(|e| file_error(&weights_path, e))?;
        let model = BertModel::load(vb, &config).map_err(|e| file_error(&weights_path, e))?;

        Ok(Self {
            model,
            tokenizer,
            device,
            dir: dir.to_path_buf(),
        })
    }

    /// The directory the model was loaded from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Runs one padded batch of token sequences and returns its pooled, normalised vectors.
    fn forward(&self, batch: &[&[u32]]) -> Result<Vec<Embedding>, EmbedError> {
        let rows = batch.len();
        let width = batch.iter().map(|ids| ids.len()).max().unwrap_or(0).max(1);
        let mut ids = vec![0u32; rows * width];
        let mut mask = vec![0u32; rows * width];
        for (r, seq) in batch.iter().enumerate() {
            ids[r * width..r * width + seq.len()].copy_from_slice(seq);
            mask[r * width..r * width + seq.len()].fill(1);
        }
        let pooled = (|| -> candle_core::Result<Vec<Vec<f32>>> {
            let ids = Tensor::from_vec(ids, (rows, width), &self.device)?;
            let mask = Tensor::from_vec(mask, (rows, width), &self.device)?;
            let type_ids = ids.zeros_like()?;
            let hidden = self.model.forward(&ids, &type_ids, Some(&mask))?;
            let mask = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
            let summed = hidden.broadcast_mul(&mask)?.sum(1)?;
            let counts = mask.sum(1)?;
            summed.broadcast_div(&counts)?.to_vec2::<f32>()
        })()
        .map_err(|e| EmbedError::Inference(Box::new(e)))?;
        pooled.into_iter().map(Embedding::from_vec).collect()
    }
}

impl Embedder for MiniLm {
    fn model_id(&self) -> &str {
        Self::MODEL_ID
    }

    fn embed(&self, texts: &[&str]) -> Result<Vec<Embedding>, EmbedError> {
        let encodings = texts
            .iter()
            .map(|t| self.tokenizer.encode(*t, true))
            .collect::<Result<Vec<_>, _>>()
            .map_err(EmbedError::Tokenizer)?;

        // Batch texts of similar length together so little compute goes to padding, then put
        // the results back in input order.
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| encodings[i].get_ids().len());
        let mut out: Vec<Option<Embedding>> = vec![None; texts.len()];
        for chunk in order.chunks(BATCH) {
            let batch: Vec<&[u32]> = chunk.iter().map(|&i| encodings[i].get_ids()).collect();
            for (&i, e) in chunk.iter().zip(self.forward(&batch)?) {
                out[i] = Some(e);
            }
        }
        out.into_iter()
            .map(|e| e.ok_or_else(|| EmbedError::Inference("batch lost a vector".into())))
            .collect()
    }
}

impl fmt::Debug for MiniLm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MiniLm")
            .field("model_id", &Self::MODEL_ID)
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

fn read(path: &Path) -> Result<Vec<u8>, EmbedError> {
    std::fs::read(path).map_err(|e| file_error(path, e))
}

fn file_error(path: &Path, source: impl Into<BoxError>) -> EmbedError {
    EmbedError::ModelFile {
        path: path.to_path_buf(),
        source: source.into(),
    }
}
