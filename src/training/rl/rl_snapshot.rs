//! The model files the RL stage writes: a snapshot of the policy at each
//! listed step (`snapshots/step-<N>/`) and the final model, each a
//! `model.safetensors` and `config.json` as pretraining writes them.

use std::path::{Path, PathBuf};

use super::RlError;
use crate::model::Parameters;
use crate::training::{write_atomically, ModelArtifact, MODEL_ARTIFACT_FORMAT_VERSION};

/// `snapshots/step-<N>` under `work_dir`.
pub fn snapshot_directory(work_dir: &Path, step: u64) -> PathBuf {
    work_dir.join("snapshots").join(format!("step-{step}"))
}

/// Writes `model.safetensors` and `config.json` into `directory`; returns
/// the weights' blake3.
pub(super) fn write_model(
    directory: &Path,
    parameters: &Parameters,
    template: &ModelArtifact,
    steps: u64,
    tokens: u64,
) -> Result<String, RlError> {
    std::fs::create_dir_all(directory).map_err(RlError::io(directory))?;
    let weights = parameters.to_safetensors()?;
    let weights_blake3 = blake3::hash(&weights).to_hex().to_string();
    let artifact = ModelArtifact {
        format_version: MODEL_ARTIFACT_FORMAT_VERSION,
        parameter_count: parameters.scalar_count()?,
        weights_blake3: weights_blake3.clone(),
        steps,
        tokens,
        ..template.clone()
    };
    write_atomically(&ModelArtifact::weights_path(directory), &weights)?;
    write_atomically(
        &ModelArtifact::config_path(directory),
        &serde_json::to_vec_pretty(&artifact)?,
    )?;
    Ok(weights_blake3)
}
