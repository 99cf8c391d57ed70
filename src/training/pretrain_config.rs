//! [`PretrainConfig`]: every setting of the pretraining stage.

use serde::{Deserialize, Serialize};

use super::{AdamWConfig, LearningRateSchedule, TrainingError};
use crate::model::ModelConfig;

/// The settings of one pretraining run. Together with the data they fix
/// every byte the run writes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PretrainConfig {
    /// The model's shape.
    pub model: ModelConfig,
    /// The seed of initialisation and mixture sampling.
    pub seed: u64,
    /// Target tokens to train on; the run takes
    /// `ceil(token_budget / (batch_size * sequence_length))` steps.
    pub token_budget: u64,
    /// Sequences per step.
    pub batch_size: usize,
    /// Tokens per sequence (each sequence reads `sequence_length + 1`
    /// tokens for its targets); at most the model's context.
    pub sequence_length: usize,
    /// The optimizer.
    pub optimizer: AdamWConfig,
    /// The learning-rate schedule.
    pub schedule: LearningRateSchedule,
    /// The largest global gradient norm, or `None` for no clipping.
    pub gradient_clip: Option<f64>,
    /// Write a checkpoint every this many steps (0: never).
    pub checkpoint_interval: u64,
    /// Measure the held-out loss every this many steps (0: only at the end).
    pub evaluation_interval: u64,
    /// At most this many held-out sequences per source per evaluation.
    pub held_out_sequences: usize,
}

impl PretrainConfig {
    /// The number of optimizer steps the run takes.
    pub fn total_steps(&self) -> u64 {
        let per_step = (self.batch_size * self.sequence_length) as u64;
        self.token_budget.div_ceil(per_step.max(1))
    }

    /// Checks ranges that the type system does not.
    pub fn validate(&self) -> Result<(), TrainingError> {
        self.model.validate()?;
        let invalid = |field: &'static str, reason: String| {
            Err(TrainingError::InvalidConfig { field, reason })
        };
        if self.batch_size == 0 {
            return invalid("batch_size", "must be at least 1".into());
        }
        if self.sequence_length == 0 || self.sequence_length > self.model.context {
            return invalid(
                "sequence_length",
                format!(
                    "must be between 1 and the model's context {}",
                    self.model.context
                ),
            );
        }
        if self.token_budget == 0 {
            return invalid("token_budget", "must be at least 1".into());
        }
        let optimizer = &self.optimizer;
        if !optimizer.learning_rate.is_finite() || optimizer.learning_rate <= 0.0 {
            return invalid("learning_rate", "must be positive".into());
        }
        for (field, beta) in [("beta1", optimizer.beta1), ("beta2", optimizer.beta2)] {
            if !(0.0..1.0).contains(&beta) {
                return invalid(field, format!("must be in [0, 1), got {beta}"));
            }
        }
        if !optimizer.epsilon.is_finite() || optimizer.epsilon <= 0.0 {
            return invalid("epsilon", "must be positive".into());
        }
        if !optimizer.weight_decay.is_finite() || optimizer.weight_decay < 0.0 {
            return invalid("weight_decay", "must not be negative".into());
        }
        if !(0.0..=1.0).contains(&self.schedule.final_fraction) {
            return invalid("final_fraction", "must be in [0, 1]".into());
        }
        if let super::Warmup::Fraction(fraction) = self.schedule.warmup {
            if !(0.0..=1.0).contains(&fraction) {
                return invalid("warmup", "a fraction must be in [0, 1]".into());
            }
        }
        if let Some(clip) = self.gradient_clip {
            if !clip.is_finite() || clip <= 0.0 {
                return invalid("gradient_clip", "must be positive".into());
            }
        }
        Ok(())
    }

    /// A blake3 digest of the configuration (its JSON form) and the data's
    /// digest: a checkpoint resumes only a run with the same fingerprint.
    pub fn fingerprint(&self, data_digest: &str) -> Result<String, TrainingError> {
        let mut hasher = blake3::Hasher::new();
        hasher.update(serde_json::to_string(self)?.as_bytes());
        hasher.update(data_digest.as_bytes());
        Ok(hasher.finalize().to_hex().to_string())
    }
}
