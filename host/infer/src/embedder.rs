//! Sentence embeddings with a BERT-family encoder, the way sentence-transformers computes
//! them: tokens → encoder → mean over the real (unpadded) tokens → optional L2 normalisation.
//!
//! Tokenising ([`TextEncoder`]) is separate from the forward pass ([`SentenceEmbedder`]) so
//! inputs are checked on the caller's side, before they join a batch.

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use tokenizers::Tokenizer;

use r1_core::ServiceError;

/// Most texts one request may carry.
pub const MAX_TEXTS: usize = 4096;

/// Text → token ids, with the model's special tokens, refusing what is too long.
pub struct TextEncoder {
    tokenizer: Tokenizer,
    max_tokens: usize,
    model: String,
}

impl TextEncoder {
    /// An encoder for model `model` refusing texts over `max_tokens` tokens; turns off the
    /// tokenizer's own padding and truncation.
    pub fn new(model: &str, mut tokenizer: Tokenizer, max_tokens: usize) -> Result<Self, String> {
        // Padding is done per batch by the embedder; truncation would silently cut texts.
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(None)
            .map_err(|e| format!("tokenizer: {e}"))?;
        Ok(Self {
            tokenizer,
            max_tokens,
            model: model.to_owned(),
        })
    }

    /// Longest text accepted, in tokens (special tokens included).
    pub fn max_tokens(&self) -> usize {
        self.max_tokens
    }

    /// Token ids per text (special tokens included).
    pub fn encode(&self, texts: &[String]) -> Result<Vec<Vec<u32>>, ServiceError> {
        if texts.is_empty() {
            return Err(ServiceError::Invalid("the list of texts is empty".into()));
        }
        if texts.len() > MAX_TEXTS {
            return Err(ServiceError::Invalid(format!(
                "{} texts in one request; at most {MAX_TEXTS}",
                texts.len()
            )));
        }
        texts
            .iter()
            .enumerate()
            .map(|(i, text)| {
                let encoding = self.tokenizer.encode(text.as_str(), true).map_err(|e| {
                    ServiceError::Invalid(format!("text {i}: cannot tokenise: {e}"))
                })?;
                let ids = encoding.get_ids();
                if ids.len() > self.max_tokens {
                    return Err(ServiceError::Invalid(format!(
                        "text {i} is {} tokens long; {} takes at most {}",
                        ids.len(),
                        self.model,
                        self.max_tokens
                    )));
                }
                Ok(ids.to_vec())
            })
            .collect()
    }
}

/// The encoder and pooling of one sentence-embedding model.
pub struct SentenceEmbedder {
    model: BertModel,
    device: Device,
    normalize: bool,
    pad_id: u32,
    dimension: usize,
    /// Rows per forward pass: longer batches are split, shortest texts together.
    pass_rows: usize,
}

impl SentenceEmbedder {
    /// Loads BERT weights (safetensors bytes, as f32) onto `device`; `pad_id` pads short rows.
    pub fn load(
        weights: Vec<u8>,
        config: &Config,
        device: &Device,
        normalize: bool,
        pad_id: u32,
    ) -> candle_core::Result<Self> {
        let vb = VarBuilder::from_buffered_safetensors(weights, DType::F32, device)?;
        Ok(Self {
            model: BertModel::load(vb, config)?,
            device: device.clone(),
            normalize,
            pad_id,
            dimension: config.hidden_size,
            pass_rows: 32,
        })
    }

    /// Length of each embedding (the encoder's hidden size).
    pub fn dimension(&self) -> usize {
        self.dimension
    }

    /// One embedding per token sequence, in order.
    pub fn embed(&self, rows: &[Vec<u32>]) -> candle_core::Result<Vec<Vec<f32>>> {
        let mut order: Vec<usize> = (0..rows.len()).collect();
        order.sort_by_key(|&i| rows[i].len());
        let mut out = vec![Vec::new(); rows.len()];
        for pass in passes(&order, |i| rows[i].len(), self.pass_rows) {
            let batch: Vec<&[u32]> = pass.iter().map(|&i| rows[i].as_slice()).collect();
            for (&i, vector) in pass.iter().zip(self.forward(&batch)?) {
                out[i] = vector;
            }
        }
        Ok(out)
    }

    fn forward(&self, rows: &[&[u32]]) -> candle_core::Result<Vec<Vec<f32>>> {
        let n = rows.len();
        let len = rows.iter().map(|r| r.len()).max().unwrap_or(0).max(1);
        let mut ids = Vec::with_capacity(n * len);
        let mut mask = Vec::with_capacity(n * len);
        for row in rows {
            ids.extend_from_slice(row);
            ids.extend(std::iter::repeat_n(self.pad_id, len - row.len()));
            mask.extend(std::iter::repeat_n(1u32, row.len()));
            mask.extend(std::iter::repeat_n(0u32, len - row.len()));
        }
        let ids = Tensor::from_vec(ids, (n, len), &self.device)?;
        let mask = Tensor::from_vec(mask, (n, len), &self.device)?;
        let hidden = self.model.forward(&ids, &ids.zeros_like()?, Some(&mask))?;
        let weights = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
        let summed = hidden.broadcast_mul(&weights)?.sum(1)?;
        let pooled = summed.broadcast_div(&weights.sum(1)?)?;
        let pooled = if self.normalize {
            let norm = pooled
                .sqr()?
                .sum_keepdim(1)?
                .sqrt()?
                .clamp(1e-12, f64::MAX)?;
            pooled.broadcast_div(&norm)?
        } else {
            pooled
        };
        pooled.to_vec2::<f32>()
    }
}

/// Splits rows sorted by length into forward passes: at most `max_rows` each, and a new pass
/// whenever padding to the next row's length would more than double the work of the pass so
/// far. A batch of short texts with one long one then costs little more than the short ones.
fn passes(sorted: &[usize], len: impl Fn(usize) -> usize, max_rows: usize) -> Vec<&[usize]> {
    let mut out = Vec::new();
    let mut start = 0;
    for end in 1..=sorted.len() {
        let rows = end - start;
        let split = end == sorted.len() || rows == max_rows || {
            let real: usize = sorted[start..end].iter().map(|&i| len(i)).sum();
            let padded_if_added = (rows + 1) * len(sorted[end]);
            padded_if_added > 2 * (real + len(sorted[end]))
        };
        if split {
            out.push(&sorted[start..end]);
            start = end;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::passes;

    #[test]
    fn passes_group_similar_lengths_and_respect_the_row_limit() {
        let lens = [5, 6, 6, 7, 8, 40, 41];
        let order: Vec<usize> = (0..lens.len()).collect();
        let got = passes(&order, |i| lens[i], 32);
        assert_eq!(got, vec![&[0, 1, 2, 3, 4][..], &[5, 6][..]]);
        let got = passes(&order, |i| lens[i], 2);
        assert!(got.iter().all(|p| p.len() <= 2));
        assert_eq!(got.iter().map(|p| p.len()).sum::<usize>(), lens.len());
        assert!(passes(&[], |_| 1, 8).is_empty());
    }
}
