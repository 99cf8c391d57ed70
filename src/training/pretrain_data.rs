//! [`PretrainData`]: the tokenised documents a pretraining stage reads,
//! grouped by source with a repeat weight each.

use serde::{Deserialize, Serialize};

use super::TrainingError;

/// The documents of one source (one solution format, say).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceDocuments {
    /// The source's name, used in metrics (`code`, `prose`, ...).
    pub name: String,
    /// How many times one epoch of the mixture repeats this source; may be
    /// fractional (see [`super::MixtureStream`]).
    pub weight: f64,
    /// Training documents, each a token sequence ending with EOS.
    pub train: Vec<Vec<u32>>,
    /// Held-out documents for the evaluation loss, same form.
    pub held_out: Vec<Vec<u32>>,
}

/// Everything the pretraining stage reads besides its configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PretrainData {
    /// The sources, in a fixed order (the order matters for determinism).
    pub sources: Vec<SourceDocuments>,
    /// The tokenizer's vocabulary size.
    pub vocabulary_size: usize,
    /// The end-of-sequence token (used to pad held-out sequences).
    pub eos_id: u32,
}

impl PretrainData {
    /// Checks weights, token ranges and that the mixture is not empty.
    pub fn validate(&self) -> Result<(), TrainingError> {
        if self.eos_id as usize >= self.vocabulary_size {
            return Err(TrainingError::TokenOutOfRange {
                source_name: "eos_id".into(),
                token: self.eos_id,
                vocabulary_size: self.vocabulary_size,
            });
        }
        let mut any_tokens = false;
        for source in &self.sources {
            if !source.weight.is_finite() || source.weight < 0.0 {
                return Err(TrainingError::InvalidWeight {
                    source_name: source.name.clone(),
                    weight: source.weight,
                });
            }
            for document in source.train.iter().chain(&source.held_out) {
                if let Some(&token) = document
                    .iter()
                    .find(|&&token| token as usize >= self.vocabulary_size)
                {
                    return Err(TrainingError::TokenOutOfRange {
                        source_name: source.name.clone(),
                        token,
                        vocabulary_size: self.vocabulary_size,
                    });
                }
            }
            let whole = source.weight.floor() as usize;
            let fraction = fractional_count(source.weight, source.train.len());
            let tokens: usize = source.train.iter().map(Vec::len).sum();
            any_tokens |= tokens > 0 && (whole > 0 || fraction > 0);
        }
        if any_tokens {
            Ok(())
        } else {
            Err(TrainingError::EmptyMixture)
        }
    }

    /// A blake3 digest of every field, so that a checkpoint can tell whether
    /// it was written for this data.
    pub fn digest(&self) -> String {
        let mut hasher = blake3::Hasher::new();
        hasher.update(&(self.vocabulary_size as u64).to_le_bytes());
        hasher.update(&self.eos_id.to_le_bytes());
        hasher.update(&(self.sources.len() as u64).to_le_bytes());
        for source in &self.sources {
            hasher.update(&(source.name.len() as u64).to_le_bytes());
            hasher.update(source.name.as_bytes());
            hasher.update(&source.weight.to_bits().to_le_bytes());
            for documents in [&source.train, &source.held_out] {
                hasher.update(&(documents.len() as u64).to_le_bytes());
                for document in documents {
                    hasher.update(&(document.len() as u64).to_le_bytes());
                    for token in document {
                        hasher.update(&token.to_le_bytes());
                    }
                }
            }
        }
        hasher.finalize().to_hex().to_string()
    }
}

/// How many of `documents` documents the fractional part of `weight` adds
/// to an epoch: `round((weight - floor(weight)) * documents)`.
pub fn fractional_count(weight: f64, documents: usize) -> usize {
    ((weight - weight.floor()) * documents as f64).round() as usize
}
