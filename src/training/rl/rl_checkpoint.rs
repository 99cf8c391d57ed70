//! [`RlCheckpoint`]: the resumable state of the RL stage.
//!
//! The same layout and write protocol as pretraining's
//! [`Checkpoint`](crate::training::Checkpoint) (a temporary directory,
//! every file fsynced, renamed into place, then `latest.json` replaced
//! atomically, older directories removed last), with a state of its own:
//!
//! ```text
//! checkpoints/
//!   latest.json                 {"directory": "step-00000020"}
//!   step-00000020/
//!     weights.safetensors       the policy, plus `value_head.*` for PPO
//!     optimizer.safetensors     AdamW's moments (empty for Expert Iteration)
//!     state.json                RlCheckpointState
//! ```

use std::path::Path;

use candle_core::{Device, Tensor, Var};
use serde::{Deserialize, Serialize};

use super::RlError;
use crate::model::ModelError;
use crate::training::{AdamW, Checkpoint, CheckpointStateFormat, TrainingError};

/// The version of the RL checkpoint layout; bump it on any change.
pub const RL_CHECKPOINT_FORMAT_VERSION: u32 = 1;

/// A correct, de-duplicated completion Expert Iteration keeps for its
/// round's fine-tuning.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeptSample {
    /// The prompt's index in the inputs.
    pub prompt: usize,
    /// The completion's tokens (ending with EOS when it finished).
    pub tokens: Vec<u32>,
}

/// `state.json` of an RL checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RlCheckpointState {
    /// [`RL_CHECKPOINT_FORMAT_VERSION`] when written.
    pub format_version: u32,
    /// RL steps completed.
    pub step: u64,
    /// Optimizer steps taken (AdamW's bias correction needs it).
    pub optimizer_steps: u64,
    /// Completion tokens sampled so far.
    pub tokens: u64,
    /// The adaptive KL controller's coefficient.
    pub kl_controller: f64,
    /// Expert Iteration's samples kept so far in the current round.
    pub kept: Vec<KeptSample>,
    /// The run's fingerprint (configuration and inputs).
    pub fingerprint: String,
}

impl CheckpointStateFormat for RlCheckpointState {
    const FORMAT_VERSION: u32 = RL_CHECKPOINT_FORMAT_VERSION;

    fn format_version(&self) -> u32 {
        self.format_version
    }

    fn step(&self) -> u64 {
        self.step
    }
}

/// A complete RL checkpoint found on disk: the pretraining checkpoint's
/// layout and write protocol with the RL state.
pub type RlCheckpoint = Checkpoint<RlCheckpointState>;

/// Writes the checkpoint of `state.step`: the variables (the policy, and
/// PPO's value head), AdamW's moments and the state.
pub(super) fn save(
    work_dir: &Path,
    state: &RlCheckpointState,
    variables: &[(String, Var)],
    optimizer: &AdamW,
) -> Result<(), RlError> {
    let moments = safetensors::serialize(optimizer.moments(), None).map_err(ModelError::from)?;
    RlCheckpoint::write(work_dir, state, &serialize_variables(variables)?, &moments)?;
    Ok(())
}

/// Sets `variables` and `optimizer` from `checkpoint`, which must have
/// been written by a run of the same `fingerprint`.
pub(super) fn restore(
    checkpoint: &RlCheckpoint,
    fingerprint: &str,
    variables: &[(String, Var)],
    optimizer: &mut AdamW,
) -> Result<(), RlError> {
    if checkpoint.state.fingerprint != fingerprint {
        return Err(TrainingError::CheckpointMismatch {
            path: checkpoint.directory.clone(),
        }
        .into());
    }
    let weights_file = checkpoint.weights_path();
    let weights = std::fs::read(&weights_file).map_err(RlError::io(&weights_file))?;
    restore_variables(variables, &weights, &weights_file)?;
    let optimizer_file = checkpoint.optimizer_path();
    let moments = std::fs::read(&optimizer_file).map_err(RlError::io(&optimizer_file))?;
    let moments = candle_core::safetensors::load_buffer(&moments, &Device::Cpu)?;
    optimizer.restore(&moments, checkpoint.state.optimizer_steps, &optimizer_file)?;
    Ok(())
}

/// The variables (the policy, and PPO's value head) as safetensors.
fn serialize_variables(variables: &[(String, Var)]) -> Result<Vec<u8>, RlError> {
    let tensors: Vec<(String, Tensor)> = variables
        .iter()
        .map(|(name, variable)| (name.clone(), variable.as_tensor().clone()))
        .collect();
    Ok(safetensors::serialize(tensors, None).map_err(ModelError::from)?)
}

/// Sets `variables` from a checkpoint's `bytes`, each by name and shape.
fn restore_variables(
    variables: &[(String, Var)],
    bytes: &[u8],
    source: &Path,
) -> Result<(), RlError> {
    let tensors = candle_core::safetensors::load_buffer(bytes, &Device::Cpu)?;
    for (name, variable) in variables {
        let key = name;
        let Some(tensor) = tensors.get(key) else {
            return Err(TrainingError::MalformedCheckpoint {
                path: source.to_path_buf(),
                reason: format!("weight `{key}` is missing"),
            }
            .into());
        };
        if tensor.dims() != variable.dims() {
            return Err(TrainingError::MalformedCheckpoint {
                path: source.to_path_buf(),
                reason: format!("weight `{key}` has shape {:?}", tensor.dims()),
            }
            .into());
        }
        variable.set(tensor)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::Stream;

    fn state(kl_controller: f64) -> RlCheckpointState {
        RlCheckpointState {
            format_version: RL_CHECKPOINT_FORMAT_VERSION,
            step: 6,
            optimizer_steps: 12,
            tokens: 640,
            kl_controller,
            kept: Vec::new(),
            fingerprint: "fingerprint".into(),
        }
    }

    /// The adaptive KL coefficient a resumed run starts from must be the
    /// bits the killed run saved, or every later coefficient drifts by an
    /// ulp. serde_json's default parser reads this coefficient (saved at
    /// step 6 by `tests/rl_stage.rs`'s kill test) as 0.011331146218285303,
    /// and about one 17-digit number in ten one bit off.
    #[test]
    fn a_checkpointed_kl_coefficient_reads_back_to_the_same_bits() {
        let work_dir = tempfile::tempdir().unwrap();
        let saved = 0.011331146218285305;
        RlCheckpoint::write(work_dir.path(), &state(saved), b"weights", b"moments").unwrap();
        let restored = RlCheckpoint::latest(work_dir.path()).unwrap().unwrap();
        assert_eq!(restored.state.kl_controller.to_bits(), saved.to_bits());

        let mut stream = Stream::new(11);
        for _ in 0..20_000 {
            // Coefficients of the size the adaptive controller produces.
            let coefficient = stream.next_f64() * 0.05;
            let json = serde_json::to_vec_pretty(&state(coefficient)).unwrap();
            let read: RlCheckpointState = serde_json::from_slice(&json).unwrap();
            assert_eq!(
                read.kl_controller.to_bits(),
                coefficient.to_bits(),
                "{coefficient:?} read back as {:?}",
                read.kl_controller
            );
        }
    }
}
