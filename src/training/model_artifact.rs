//! [`ModelArtifact`]: the final output of pretraining, `model.safetensors`
//! and `config.json`, and how to load them back.

use std::path::{Path, PathBuf};

use candle_core::Device;
use serde::{Deserialize, Serialize};

use super::TrainingError;
use crate::model::{Gpt, ModelConfig, Parameters};

/// The version of `config.json`'s layout; bump it on any change.
pub const MODEL_ARTIFACT_FORMAT_VERSION: u32 = 1;

/// The contents of `config.json`, next to `model.safetensors`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelArtifact {
    /// [`MODEL_ARTIFACT_FORMAT_VERSION`] when written.
    pub format_version: u32,
    /// The model's shape.
    pub model: ModelConfig,
    /// The tokenizer's vocabulary size.
    pub vocabulary_size: usize,
    /// The end-of-sequence token.
    pub eos_id: u32,
    /// Trainable scalars in `model.safetensors`.
    pub parameter_count: usize,
    /// blake3 (hex) of `model.safetensors`.
    pub weights_blake3: String,
    /// Optimizer steps taken.
    pub steps: u64,
    /// Target tokens trained on.
    pub tokens: u64,
    /// The run's seed.
    pub seed: u64,
}

impl ModelArtifact {
    /// `dir/model.safetensors`.
    pub fn weights_path(dir: &Path) -> PathBuf {
        dir.join("model.safetensors")
    }

    /// `dir/config.json`.
    pub fn config_path(dir: &Path) -> PathBuf {
        dir.join("config.json")
    }

    /// Reads `config.json` and `model.safetensors` from `dir` and builds a
    /// trainable model from them.
    pub fn load(
        dir: &Path,
        device: &Device,
    ) -> Result<(ModelArtifact, Gpt, Parameters), TrainingError> {
        let (artifact, bytes) = Self::read(dir)?;
        let (model, parameters) =
            Gpt::from_safetensors(&artifact.model, artifact.vocabulary_size, &bytes, device)?;
        Ok((artifact, model, parameters))
    }

    /// [`ModelArtifact::load`] for inference only: the model's weights are
    /// constants ([`Gpt::frozen_from_safetensors`]).
    pub fn load_frozen(dir: &Path, device: &Device) -> Result<(ModelArtifact, Gpt), TrainingError> {
        let (artifact, bytes) = Self::read(dir)?;
        let model = Gpt::frozen_from_safetensors(
            &artifact.model,
            artifact.vocabulary_size,
            &bytes,
            device,
        )?;
        Ok((artifact, model))
    }

    /// The description and the weights' bytes of the model in `dir`.
    fn read(dir: &Path) -> Result<(ModelArtifact, Vec<u8>), TrainingError> {
        let config_path = Self::config_path(dir);
        let text = std::fs::read(&config_path).map_err(TrainingError::io(&config_path))?;
        let artifact: ModelArtifact = serde_json::from_slice(&text)?;
        if artifact.format_version != MODEL_ARTIFACT_FORMAT_VERSION {
            return Err(TrainingError::MalformedCheckpoint {
                path: config_path,
                reason: format!(
                    "format version {} (this echolab reads {MODEL_ARTIFACT_FORMAT_VERSION})",
                    artifact.format_version
                ),
            });
        }
        let weights_path = Self::weights_path(dir);
        let bytes = std::fs::read(&weights_path).map_err(TrainingError::io(&weights_path))?;
        Ok((artifact, bytes))
    }
}
